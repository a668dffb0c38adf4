package replicator

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/cairn-backup/cairn/chunkstore"
)

// unsignedPayload is SigV4's payload hash for a body it does not cover:
// bodies here are verified by the receiver (chunk IDs, CRCs), and hashing
// 8 MiB before sending would cost a pass over it.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// maxResponseBody bounds what the client reads of an answer: the largest
// is an ID list of MaxBatch IDs.
const maxResponseBody = 1 << 20

// PeerOptions configure NewPeer. The zero value is usable.
type PeerOptions struct {
	// BytesPerSecond limits request bodies (0: unlimited); see SetRate.
	BytesPerSecond int64
	// Limiter, if set, is used instead of one of BytesPerSecond, so that
	// several peers share one link's limit.
	Limiter *Limiter
	// OnIncompatible is called with both versions ("1/1") when the peer
	// speaks another version, for the gateway's event log.
	OnIncompatible func(local, remote string)
}

// Peer is the replica side as the source sees it: a client of its Handler,
// every request SigV4-signed with the replica's credentials. Its methods
// are safe for concurrent use; each is one request. Errors wrap a
// *PeerError (an answer), an *IncompatibleError, or a transport or context
// error (the link).
type Peer struct {
	endpoint string
	creds    aws.Credentials
	region   string
	hc       *http.Client
	signer   *v4.Signer
	lim      *Limiter
	local    Hello
	onIncomp func(local, remote string)
	sent     atomic.Int64
	bodies   bodyBuffers // SendVersion's records bodies
}

// NewPeer returns a client of the Cairn at endpoint (scheme, host and
// port, e.g. "https://replica.example:9000"). hc nil means
// http.DefaultClient.
func NewPeer(endpoint, accessKey, secretKey, region string, hc *http.Client, opts PeerOptions) *Peer {
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := opts.Limiter
	if lim == nil {
		lim = NewLimiter(opts.BytesPerSecond)
	}
	p := &Peer{
		endpoint: strings.TrimSuffix(endpoint, "/"),
		creds:    aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		region:   region,
		hc:       hc,
		signer:   v4.NewSigner(),
		lim:      lim,
		local:    Hello{Protocol: ProtocolVersion, RecordFormat: RecordFormat},
		onIncomp: opts.OnIncompatible,
	}
	p.bodies = newBodyBuffers(2)
	return p
}

// Endpoint is the peer's endpoint, for logs.
func (p *Peer) Endpoint() string { return p.endpoint }

// SetRate changes the bandwidth limit (0: unlimited) of this peer's limiter.
func (p *Peer) SetRate(bytesPerSecond int64) { p.lim.SetRate(bytesPerSecond) }

// BytesSent counts request body bytes handed to the transport.
func (p *Peer) BytesSent() int64 { return p.sent.Load() }

// Hello asks the peer's versions, returning *IncompatibleError (and calling
// the hook) if they are not ours.
func (p *Peer) Hello(ctx context.Context) (Hello, error) {
	body, err := p.do(ctx, http.MethodGet, "hello", nil, nil)
	if err != nil {
		return Hello{}, err
	}
	var h Hello
	if err := json.Unmarshal(body, &h); err != nil {
		return Hello{}, fmt.Errorf("replication peer %s: hello: %w", p.endpoint, err)
	}
	if !h.Compatible(p.local) {
		return h, fmt.Errorf("replication peer %s: %w", p.endpoint, p.incompatible(h))
	}
	return h, nil
}

// incompatible calls the hook and returns the error for a peer of remote's
// versions.
func (p *Peer) incompatible(remote Hello) *IncompatibleError {
	if p.onIncomp != nil {
		p.onIncomp(p.local.Version(), remote.Version())
	}
	return &IncompatibleError{Local: p.local, Remote: remote}
}

// NewTransfer opens a transfer into bucket and returns its ID.
func (p *Peer) NewTransfer(ctx context.Context, bucket string) (string, error) {
	body, err := p.do(ctx, http.MethodPost, "transfers", url.Values{"bucket": {bucket}}, nil)
	if err != nil {
		return "", err
	}
	var tb transferBody
	if err := json.Unmarshal(body, &tb); err != nil || tb.ID == "" {
		return "", fmt.Errorf("replication peer %s: transfers: bad answer %q", p.endpoint, body)
	}
	return tb.ID, nil
}

// Need returns those of ids (at most MaxBatch) the peer lacks; it holds the
// others for the transfer.
func (p *Peer) Need(ctx context.Context, transfer string, ids []chunkstore.ChunkID) ([]chunkstore.ChunkID, error) {
	body, err := p.do(ctx, http.MethodPost, "transfers/need", url.Values{"id": {transfer}}, AppendIDs(make([]byte, 0, len(ids)*idSize), ids))
	if err != nil {
		return nil, err
	}
	missing, err := DecodeIDs(body)
	if err != nil {
		return nil, fmt.Errorf("replication peer %s: need: %w", p.endpoint, err)
	}
	return missing, nil
}

// PutRecords sends records as stored (at most MaxBatch, MaxRecordsBody
// framed). The peer verifies each against its ID and refuses the call
// whole (400 BadRecord) if one fails.
func (p *Peer) PutRecords(ctx context.Context, transfer string, recs []chunkstore.Record) error {
	var body []byte
	for _, r := range recs {
		body = AppendRecord(body, r)
	}
	return p.putRecordsBody(ctx, transfer, body)
}

// putRecordsBody sends an encoded records body (the sender builds one in
// place, so a batch's records are in memory once).
func (p *Peer) putRecordsBody(ctx context.Context, transfer string, body []byte) error {
	_, err := p.do(ctx, http.MethodPost, "transfers/records", url.Values{"id": {transfer}}, body)
	return err
}

// Append appends entries (at most MaxBatch) to the transfer's manifest at
// offset, which must be the logical size appended so far: a repeated call
// is refused (409 OffsetMismatch) rather than appended twice. If the peer
// lacks chunks it appends nothing and the error is a
// *chunkstore.MissingChunksError naming them: send them and retry.
func (p *Peer) Append(ctx context.Context, transfer string, offset int64, entries []chunkstore.Entry) error {
	q := url.Values{"id": {transfer}, "offset": {strconv.FormatInt(offset, 10)}}
	_, err := p.do(ctx, http.MethodPost, "transfers/append", q, AppendEntries(make([]byte, 0, len(entries)*entrySize), entries))
	return err
}

// Committed is the peer's answer to a commit.
type Committed struct {
	// AlreadyApplied: the op had been applied before; this transfer was
	// dropped and nothing changed.
	AlreadyApplied bool  `json:"alreadyApplied,omitempty"`
	Size           int64 `json:"size"`
	Chunks         int64 `json:"chunks"`
}

// Commit commits the transfer's manifest of size bytes with op, which the
// peer's Target turns into the object version. The transfer ends whatever
// the answer.
func (p *Peer) Commit(ctx context.Context, transfer string, size int64, op json.RawMessage) (Committed, error) {
	q := url.Values{"id": {transfer}, "size": {strconv.FormatInt(size, 10)}}
	body, err := p.do(ctx, http.MethodPost, "transfers/commit", q, op)
	if err != nil {
		return Committed{}, err
	}
	var c Committed
	if err := json.Unmarshal(body, &c); err != nil {
		return Committed{}, fmt.Errorf("replication peer %s: commit: bad answer: %w", p.endpoint, err)
	}
	return c, nil
}

// Abort drops the transfer; aborting one the peer does not know succeeds.
func (p *Peer) Abort(ctx context.Context, transfer string) error {
	_, err := p.do(ctx, http.MethodPost, "transfers/abort", url.Values{"id": {transfer}}, nil)
	return err
}

// Apply applies an op without data (delete, delete marker, tags) to bucket.
// It is idempotent.
func (p *Peer) Apply(ctx context.Context, bucket string, op json.RawMessage) error {
	_, err := p.do(ctx, http.MethodPost, "apply", url.Values{"bucket": {bucket}}, op)
	return err
}

// do sends one signed request and returns the answer's body, or the error
// it says.
func (p *Peer) do(ctx context.Context, method, route string, q url.Values, body []byte) ([]byte, error) {
	u := p.endpoint + PathPrefix + route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("replication peer %s: %s: %w", p.endpoint, route, err)
	}
	if len(body) > 0 {
		// Set after NewRequest, which would otherwise not know the length
		// of a limitedReader and send the body chunked.
		req.Body = io.NopCloser(&limitedReader{ctx: ctx, r: bytes.NewReader(body), lim: p.lim, count: func(n int) { p.sent.Add(int64(n)) }})
		req.ContentLength = int64(len(body))
	}
	req.Header.Set(VersionHeader, p.local.Version())
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := p.signer.SignHTTP(ctx, p.creds, req, unsignedPayload, "s3", p.region, time.Now()); err != nil {
		return nil, fmt.Errorf("replication peer %s: %s: sign: %w", p.endpoint, route, err)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("replication peer %s: %s: %w", p.endpoint, route, err)
	}
	defer resp.Body.Close()
	rbody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("replication peer %s: %s: reading answer: %w", p.endpoint, route, err)
	}
	if resp.StatusCode < 300 {
		return rbody, nil
	}
	return nil, p.answerError(route, resp, rbody)
}

// answerError turns an error answer into the error it says.
func (p *Peer) answerError(route string, resp *http.Response, body []byte) error {
	code := resp.Header.Get(ErrorHeader)
	if code == CodeMissingChunks && resp.StatusCode == http.StatusConflict {
		ids, err := DecodeIDs(body)
		if err == nil && len(ids) > 0 {
			return &chunkstore.MissingChunksError{IDs: ids}
		}
	}
	pe := &PeerError{Status: resp.StatusCode, Code: code}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Code != "" {
		pe.Code, pe.Message = eb.Code, eb.Error
	} else if s3 := (s3Error{}); xml.Unmarshal(body, &s3) == nil && s3.Code != "" {
		// The gateway's S3 layer answered before the handler: a refused
		// signature, credentials that may not replicate.
		pe.Code, pe.Message = s3.Code, s3.Message
	} else {
		// A proxy's answer, perhaps: keep its start for the message.
		pe.Message = strings.TrimSpace(string(body[:min(len(body), 512)]))
	}
	if pe.Code == "" {
		pe.Code = http.StatusText(resp.StatusCode)
	}
	if pe.Code == CodeIncompatiblePeer {
		// The server says its versions on every answer.
		remote, _ := parseVersion(resp.Header.Get(VersionHeader))
		return fmt.Errorf("replication peer %s: %s: %w (%w)", p.endpoint, route, p.incompatible(remote), pe)
	}
	return fmt.Errorf("replication peer %s: %s: %w", p.endpoint, route, pe)
}

// s3Error is the part of an S3 error answer the client reports.
type s3Error struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}
