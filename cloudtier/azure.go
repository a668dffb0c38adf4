package cloudtier

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// AzureConfig names an Azure Blob container (and a prefix in it) and how
// to authenticate to it: an account's shared key (AccountName and
// AccountKey) or a SAS token, not both.
type AzureConfig struct {
	// AccountURL is the blob service's URL: https://ACCOUNT.blob.core.windows.net,
	// or for Azurite http://127.0.0.1:10000/devstoreaccount1.
	AccountURL string
	Container  string
	Prefix     string // a directory of the container, "" for its root
	// AccountName and AccountKey are a shared key credential.
	AccountName string
	AccountKey  string
	// SAS is a shared access signature token (with or without its leading
	// '?'): at least read, write (create), delete and list on the container.
	SAS string
}

// azureTarget is a Target on one Azure Blob container.
type azureTarget struct {
	c      *container.Client
	desc   string // String(): no credential, no SAS
	prefix string // "" or ends with '/'
}

var _ Target = (*azureTarget)(nil)

// NewAzure returns the Target of c. It checks the configuration, not the
// service: Probe does that.
//
// The SDK retries what Azure throttles or fails transiently (408, 429,
// 500 such as InternalError or OperationTimedOut, 502, 503 ServerBusy, 504)
// and the network's failures (a refused or reset connection, a timeout),
// honouring Retry-After, within retryAttempts tries; a read of a GetRange
// body that breaks off is resumed where it stopped, as often.
func NewAzure(c AzureConfig) (Target, error) {
	u, err := checkServiceURL("AccountURL", c.AccountURL)
	if err != nil {
		return nil, fmt.Errorf("cloudtier: azure: %w", err)
	}
	if err := checkContainerName("Container", c.Container); err != nil {
		return nil, fmt.Errorf("cloudtier: azure: %w", err)
	}
	prefix, err := cleanPrefix("Prefix", c.Prefix)
	if err != nil {
		return nil, fmt.Errorf("cloudtier: azure: %w", err)
	}
	containerURL := u + "/" + c.Container
	opts := &container.ClientOptions{}
	opts.Retry = policy.RetryOptions{
		MaxRetries:    retryAttempts - 1,
		RetryDelay:    retryBase,
		MaxRetryDelay: retryMaxDelay,
	}
	var cl *container.Client
	switch {
	case c.SAS != "" && c.AccountKey != "":
		return nil, errors.New("cloudtier: azure: both AccountKey and SAS are set; give one credential")
	case c.SAS != "":
		sas, err := checkSAS(c.SAS)
		if err != nil {
			return nil, fmt.Errorf("cloudtier: azure: %w", err)
		}
		cl, err = container.NewClientWithNoCredential(containerURL+"?"+sas, opts)
		if err != nil {
			return nil, fmt.Errorf("cloudtier: azure: %w", err)
		}
	case c.AccountKey != "":
		if c.AccountName == "" {
			return nil, errors.New("cloudtier: azure: AccountName is empty; a shared key needs the account's name")
		}
		cred, err := container.NewSharedKeyCredential(c.AccountName, c.AccountKey)
		if err != nil {
			// The SDK's message names a byte offset, never the key.
			return nil, fmt.Errorf("cloudtier: azure: AccountKey of account %q is not a base64 account key: %w", c.AccountName, err)
		}
		cl, err = container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("cloudtier: azure: %w", err)
		}
	default:
		return nil, errors.New("cloudtier: azure: no credential; set AccountName and AccountKey, or SAS")
	}
	return &azureTarget{c: cl, desc: "azure " + containerURL + "/" + prefix, prefix: prefix}, nil
}

// checkServiceURL checks an http(s) URL of a service and returns it
// without a trailing '/'. It refuses user info and a query, so that what
// String shows never holds a credential.
func checkServiceURL(field, s string) (string, error) {
	u, err := url.Parse(s)
	// What messages quote: never a query (a pasted SAS) or user info.
	shown := s
	if i := strings.IndexAny(shown, "?#"); i >= 0 {
		shown = shown[:i] + "?..."
	}
	if i := strings.Index(shown, "@"); i >= 0 {
		shown = "..." + shown[i:]
	}
	switch {
	case s == "":
		return "", fmt.Errorf("%s is empty", field)
	case err != nil:
		return "", fmt.Errorf("%s %q: not a URL", field, shown)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s %q: want an http:// or https:// URL", field, shown)
	case u.Host == "":
		return "", fmt.Errorf("%s %q: no host", field, shown)
	case u.User != nil:
		return "", fmt.Errorf("%s: has user info; give credentials in their own fields", field)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%s: has a query; give a SAS in SAS, not in the URL", field)
	case u.Fragment != "":
		return "", fmt.Errorf("%s %q: has a fragment", field, shown)
	}
	return strings.TrimRight(s, "/"), nil
}

// checkContainerName applies Azure's rules for container names, so a
// mistyped name is refused here rather than as a 400 from the service.
func checkContainerName(field, name string) error {
	const rules = "3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit"
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", field)
	case len(name) < 3 || len(name) > 63:
		return fmt.Errorf("%s %q: %d characters; want %s", field, name, len(name), rules)
	case name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--"):
		return fmt.Errorf("%s %q: want %s", field, name, rules)
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Errorf("%s %q: has %q; want %s", field, name, r, rules)
		}
	}
	return nil
}

// checkSAS returns a SAS token without its leading '?'. Its error never
// quotes the token.
func checkSAS(s string) (string, error) {
	s = strings.TrimPrefix(s, "?")
	q, err := url.ParseQuery(s)
	switch {
	case err != nil:
		return "", errors.New("SAS is not a query string (sv=...&sig=...)")
	case q.Get("sig") == "":
		return "", errors.New("SAS has no sig parameter; give the whole token")
	}
	return s, nil
}

func (t *azureTarget) String() string { return t.desc }

func (t *azureTarget) Put(ctx context.Context, name string, body io.ReadSeeker, size int64, md5 []byte) error {
	sec, err := putBody(name, body, size, md5)
	if err != nil {
		return t.fail(ctx, "put", name, err)
	}
	// One Put Blob (packs are at most 64 MiB, far under its 5000 MiB): the
	// blob appears whole or not at all, and Content-MD5 makes the service
	// refuse (400 Md5Mismatch) bytes that are not the ones hashed.
	_, err = t.c.NewBlockBlobClient(t.prefix+name).Upload(ctx, streaming.NopCloser(sec), &blockblob.UploadOptions{
		TransactionalValidation: blob.TransferValidationTypeMD5(md5),
	})
	if err != nil {
		return t.fail(ctx, "put", name, err)
	}
	return nil
}

func (t *azureTarget) GetRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, t.fail(ctx, "get", name, err)
	}
	if off < 0 {
		return nil, t.fail(ctx, "get", name, fmt.Errorf("negative offset %d", off))
	}
	b := t.c.NewBlobClient(t.prefix + name)
	if n == 0 {
		// A Count of 0 means "to the end" to the SDK; ask whether the
		// object exists instead.
		if _, err := b.GetProperties(ctx, nil); err != nil {
			return nil, t.fail(ctx, "get", name, err)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	rng := blob.HTTPRange{Offset: off}
	if n > 0 {
		rng.Count = n
	}
	resp, err := b.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: rng})
	if err != nil {
		return nil, t.fail(ctx, "get", name, err)
	}
	// The retry reader resumes a body that breaks off with a new ranged
	// request for the rest, of the same ETag (our objects never change).
	// Our own Close is no failure to retry.
	body := resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: retryAttempts - 1, EarlyCloseAsError: true})
	return &readCloser{ReadCloser: body, wrap: func(err error) error { return t.fail(ctx, "get", name, err) }}, nil
}

func (t *azureTarget) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return t.fail(ctx, "delete", name, err)
	}
	// Snapshots included: a blob someone snapshotted could not be deleted
	// otherwise (409 SnapshotsPresent).
	_, err := t.c.NewBlobClient(t.prefix+name).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: new(blob.DeleteSnapshotsOptionTypeInclude)})
	if err == nil || bloberror.HasCode(err, bloberror.BlobNotFound) {
		return nil
	}
	return t.fail(ctx, "delete", name, err)
}

func (t *azureTarget) List(ctx context.Context, prefix string, fn func(name string, size int64) error) error {
	full := t.prefix + prefix
	pager := t.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &full})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return t.fail(ctx, "list", prefix, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil {
				continue
			}
			var size int64
			if it.Properties != nil && it.Properties.ContentLength != nil {
				size = *it.Properties.ContentLength
			}
			// The service lists in name order, so does fn see them.
			if err := fn(strings.TrimPrefix(*it.Name, t.prefix), size); err != nil {
				return err
			}
		}
	}
	return nil
}

// fail makes err, from the SDK (or our own checks), the opError of op.
func (t *azureTarget) fail(ctx context.Context, op, name string, err error) error {
	e := &opError{target: t.desc, op: op, name: name, err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.msg = azureMessage(re)
		// A missing container is a missing object too, for a reader.
		e.notFound = op == "get" && (re.StatusCode == http.StatusNotFound ||
			bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound))
	} else {
		e.msg = netMessage(err)
	}
	endOfContext(ctx, e)
	return e
}

// azureMessage is "404 BlobNotFound: The specified blob does not exist."
// from an Azure error response: its code and the first line of its message
// (the rest is a request ID and a time). The SDK's own Error text, many
// lines of request and response, stays in the chain.
func azureMessage(re *azcore.ResponseError) string {
	msg := fmt.Sprint(re.StatusCode)
	if re.ErrorCode != "" {
		msg += " " + re.ErrorCode
	} else {
		msg += " " + http.StatusText(re.StatusCode)
	}
	if re.RawResponse == nil {
		return msg
	}
	body, err := runtime.Payload(re.RawResponse) // cached by the SDK
	if err != nil || len(body) == 0 {
		return msg
	}
	var doc struct {
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(body, &doc) == nil {
		if m, _, _ := strings.Cut(strings.TrimSpace(doc.Message), "\n"); m != "" {
			msg += ": " + strings.TrimSpace(m)
		}
	}
	return shorten(msg)
}

// netMessage words a failure that is not a service's answer. It leaves
// out the request's URL (a *url.Error's text), which would carry a SAS.
func netMessage(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) {
		return shorten(ne.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return shorten(ue.Err.Error())
	}
	return shorten(err.Error())
}

// endOfContext makes the opError say that ctx ended, when it did: that,
// not the failure it cut short, is why the operation stopped. ctx.Err()
// joins the chain, for errors.Is.
func endOfContext(ctx context.Context, e *opError) {
	cerr := ctx.Err()
	if cerr == nil {
		return
	}
	e.msg = ctxMessage(cerr)
	if !errors.Is(e.err, cerr) {
		e.err = errors.Join(e.err, cerr)
	}
}

// shorten keeps a message to a line of a few hundred bytes.
func shorten(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
