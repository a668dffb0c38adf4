package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Workload names, in the order Run runs them.
const (
	WorkloadPut         = "put"
	WorkloadGet         = "get"
	WorkloadSmall       = "small"
	WorkloadGenerations = "generations"
)

// Workloads lists every workload in the order Run runs them.
func Workloads() []string {
	return []string{WorkloadPut, WorkloadGet, WorkloadSmall, WorkloadGenerations}
}

// ErrFailed is wrapped by Run's error when some operations failed.
var ErrFailed = errors.New("bench: operations failed")

// RunOptions configures Run. Zero values take the defaults named.
type RunOptions struct {
	Endpoint  string // http(s)://host:port of any S3 server
	AccessKey string
	SecretKey string
	Region    string // default us-east-1
	// Bucket is created when missing and then deleted at the end unless
	// Keep. Default: a new cairn-bench-… bucket.
	Bucket string
	// Workloads: put, get, small, generations (default put and get). They
	// run in that order; get reads back what put wrote, so get implies put.
	Workloads []string

	Streams    int   // concurrent streams (default 4)
	ObjectSize int64 // put's object size (default 64 MiB)
	// Duration and Bytes bound put: it starts no new object once Duration
	// has passed or Bytes are written (the last object is cut to make
	// exactly Bytes). Default when both are zero: 30s.
	Duration time.Duration
	Bytes    int64
	// Objects of MultipartThreshold bytes or more are uploaded in parts
	// of PartSize (defaults 8 MiB and 8 MiB, as the aws CLI). PartSize
	// may not be under 5 MiB, S3's minimum.
	MultipartThreshold int64
	PartSize           int64
	Seed               int64 // seeds put's and small's data (default 1)
	RangeReads         int   // get's random range reads (default 64)

	Dataset      string // a directory Gen wrote, for generations
	SmallObjects int    // small's object count, listed by LIST (default 10,000)
	SmallSize    int64  // small's object size (default 4 KiB)

	// Where stored bytes come from for generations: StatsSource when set,
	// else the server's data directory StatsDir when set, else the Cairn
	// admin API when the endpoint serves it, else none.
	StatsSource StatsSource
	StatsDir    string

	Keep     bool      // keep the objects (and the bucket) at the end
	Progress io.Writer // live progress; nil for none
	JSON     string    // write the report there too
}

func (o *RunOptions) setDefaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Bucket == "" {
		o.Bucket = "cairn-bench-" + strings.ToLower(time.Now().UTC().Format("20060102t150405")) + "-" + randHex(3)
	}
	if len(o.Workloads) == 0 {
		o.Workloads = []string{WorkloadPut, WorkloadGet}
	}
	if o.Streams == 0 {
		o.Streams = 4
	}
	if o.ObjectSize == 0 {
		o.ObjectSize = 64 << 20
	}
	if o.Duration == 0 && o.Bytes == 0 {
		o.Duration = 30 * time.Second
	}
	if o.MultipartThreshold == 0 {
		o.MultipartThreshold = 8 << 20
	}
	if o.PartSize == 0 {
		o.PartSize = 8 << 20
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.RangeReads == 0 {
		o.RangeReads = 64
	}
	if o.SmallObjects == 0 {
		o.SmallObjects = 10_000
	}
	if o.SmallSize == 0 {
		o.SmallSize = 4 << 10
	}
}

// validate checks o (defaults set) and returns its workloads in run order.
func (o *RunOptions) validate() ([]string, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: RunOptions.Endpoint %q: want http(s)://host[:port]", o.Endpoint)
	}
	switch {
	case o.AccessKey == "" || o.SecretKey == "":
		return nil, errors.New("bench: RunOptions.AccessKey and SecretKey are required")
	case o.Streams < 1:
		return nil, fmt.Errorf("bench: RunOptions.Streams %d: want 1 or more", o.Streams)
	case o.ObjectSize < 1:
		return nil, fmt.Errorf("bench: RunOptions.ObjectSize %d: want 1 or more", o.ObjectSize)
	case o.Duration < 0 || o.Bytes < 0:
		return nil, errors.New("bench: RunOptions.Duration and Bytes may not be negative")
	case o.MultipartThreshold < 1:
		return nil, fmt.Errorf("bench: RunOptions.MultipartThreshold %d: want 1 or more", o.MultipartThreshold)
	case o.PartSize < 5<<20:
		return nil, fmt.Errorf("bench: RunOptions.PartSize %d: want 5 MiB or more", o.PartSize)
	case o.RangeReads < 0:
		return nil, fmt.Errorf("bench: RunOptions.RangeReads %d is negative", o.RangeReads)
	case o.SmallObjects < 1 || o.SmallSize < 0:
		return nil, fmt.Errorf("bench: RunOptions.SmallObjects %d, SmallSize %d: want 1 or more objects of 0 or more bytes", o.SmallObjects, o.SmallSize)
	}
	want := map[string]bool{}
	for _, w := range o.Workloads {
		if !slices.Contains(Workloads(), w) {
			return nil, fmt.Errorf("bench: unknown workload %q (want %s)", w, strings.Join(Workloads(), ", "))
		}
		want[w] = true
	}
	if want[WorkloadGet] {
		want[WorkloadPut] = true
	}
	if want[WorkloadGenerations] && o.Dataset == "" {
		return nil, errors.New("bench: the generations workload needs RunOptions.Dataset, a directory from Gen")
	}
	var ws []string
	for _, w := range Workloads() {
		if want[w] {
			ws = append(ws, w)
		}
	}
	return ws, nil
}

// runner holds one Run's state.
type runner struct {
	o      RunOptions
	c      *s3.Client
	hc     *http.Client
	mt     *meteredTransport // hc's transport
	prog   *progress
	rep    *Report
	prefix string
	stats  StatsSource // nil: none
	ready  bool        // the bucket is there
	put    []object    // what put wrote, for get
}

// Run measures the endpoint on the workloads and returns the report. It
// returns the report whenever it got as far as the first request, even
// with an error: an error wrapping ErrFailed when operations failed (they
// are counted in the report, with samples of their errors), or the error
// that stopped the run (also in Report.Error). Unless Keep, it deletes
// every object it wrote, and the bucket if it created it, even when ctx is
// cancelled. When JSON is set, the report is written there in any case.
func Run(ctx context.Context, opts RunOptions) (*Report, error) {
	o := opts
	o.setDefaults()
	workloads, err := o.validate()
	if err != nil {
		return nil, err
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	r := &runner{o: o, prog: newProgress(o.Progress)}
	r.mt = &meteredTransport{base: newTransport(o.Streams)}
	r.hc = &http.Client{Transport: r.mt}
	r.c = newClient(o, r.hc)
	r.prefix = "run-" + time.Now().UTC().Format("20060102T150405") + "-" + randHex(4) + "/"
	r.rep = &Report{
		Format: ReportFormat, Endpoint: o.Endpoint, Region: o.Region, Bucket: o.Bucket, Prefix: r.prefix,
		Start: time.Now().UTC(),
		Params: Params{
			Workloads: workloads, Streams: o.Streams, ObjectSize: o.ObjectSize, DurationSeconds: o.Duration.Seconds(),
			Bytes: o.Bytes, MultipartThreshold: o.MultipartThreshold, PartSize: o.PartSize, Seed: o.Seed,
			RangeReads: o.RangeReads, SmallObjects: o.SmallObjects, SmallSize: o.SmallSize, Dataset: o.Dataset, Keep: o.Keep,
		},
		Phases: []Phase{},
	}
	runErr := r.run(ctx, workloads)
	r.finish(ctx)
	r.hc.CloseIdleConnections()
	rep := r.rep
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	if o.JSON != "" {
		if err := rep.WriteJSON(o.JSON); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return rep, fmt.Errorf("bench: %w", runErr)
	}
	if rep.Errors > 0 {
		return rep, fmt.Errorf("%w: %d", ErrFailed, rep.Errors)
	}
	return rep, nil
}

// run makes the bucket, finds the stats source and runs the workloads.
func (r *runner) run(ctx context.Context, workloads []string) error {
	created, err := r.ensureBucket(ctx)
	if err != nil {
		return err
	}
	r.rep.Params.BucketCreated = created
	r.ready = true
	r.stats, r.rep.StatsSource = r.findStats(ctx)
	r.prog.printf("cairn bench: %s, bucket %s, prefix %s, stats: %s", r.o.Endpoint, r.o.Bucket, r.prefix, r.rep.StatsSource)
	for _, w := range workloads {
		var err error
		switch w {
		case WorkloadPut:
			err = r.runPut(ctx)
		case WorkloadGet:
			err = r.runGet(ctx)
		case WorkloadSmall:
			err = r.runSmall(ctx)
		case WorkloadGenerations:
			err = r.runGenerations(ctx)
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		if (w == WorkloadGet || w == WorkloadPut && !slices.Contains(workloads, WorkloadGet)) && !r.o.Keep {
			// put's objects are of no more use: delete them now, so that
			// the workloads after have the server to themselves.
			r.deletePut(ctx)
		}
	}
	return nil
}

// deletePut deletes the objects put wrote.
func (r *runner) deletePut(ctx context.Context) {
	keys := make([]string, len(r.put))
	for i, obj := range r.put {
		keys[i] = obj.key
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), listPage)]
		keys = keys[len(batch):]
		n, errs := r.deleteKeys(ctx, batch)
		r.rep.Cleanup.Deleted += n
		for _, err := range errs {
			r.cleanupFail(err)
		}
	}
	r.put = nil
}

// finish cleans up (with a context of its own, so that an interrupted run
// still does) and totals the errors.
func (r *runner) finish(ctx context.Context) {
	if r.o.Keep {
		r.rep.Cleanup.Skipped = true
	} else {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		r.cleanup(cctx)
		cancel()
	}
	r.rep.End = time.Now().UTC()
	r.rep.Seconds = r.rep.End.Sub(r.rep.Start).Seconds()
	r.rep.Errors = r.rep.Cleanup.Errors
	for _, ph := range r.rep.Phases {
		r.rep.Errors += ph.Errors
	}
}

// newTransport is an HTTP transport that keeps a connection per stream
// (and per part in flight) and does not ask for compressed answers.
func newTransport(streams int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = 2*streams + 8
	tr.DisableCompression = true
	tr.ResponseHeaderTimeout = 5 * time.Minute
	return tr
}

// newClient is an S3 client for the endpoint: path-style addressing, and
// no retries, so that every failed operation is counted.
func newClient(o RunOptions, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		Region:       o.Region,
		BaseEndpoint: aws.String(o.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, ""),
		HTTPClient:   hc,
		Retryer:      aws.NopRetryer{},
	})
}

// ensureBucket creates the bucket unless it exists; created says whether
// this run made it.
func (r *runner) ensureBucket(ctx context.Context) (created bool, err error) {
	b := aws.String(r.o.Bucket)
	_, err = r.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b})
	if err == nil {
		return false, nil
	}
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	if !errors.As(err, &nf) && !errors.As(err, &nsb) {
		return false, fmt.Errorf("bucket %s: %w", r.o.Bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: b}
	if r.o.Region != "us-east-1" {
		// S3 outside us-east-1 wants the region; Cairn takes its own
		// region as the default storage group.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r.o.Region)}
	}
	_, err = r.c.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create bucket %s: %w", r.o.Bucket, err)
	}
	return true, nil
}

// findStats picks the stats source and describes it for the report.
func (r *runner) findStats(ctx context.Context) (StatsSource, string) {
	switch {
	case r.o.StatsSource != nil:
		return r.o.StatsSource, "custom"
	case r.o.StatsDir != "":
		src := DirStats(r.o.StatsDir)
		if _, err := src.Stats(ctx); err != nil {
			return nil, "none: " + err.Error()
		}
		return src, "dir " + r.o.StatsDir
	}
	src := NewCairnStats(r.o.Endpoint, r.o.Region, r.o.AccessKey, r.o.SecretKey, r.hc)
	if _, err := src.Stats(ctx); err != nil {
		return nil, "none: " + err.Error()
	}
	return src, "cairn admin API"
}

// forEach runs fn(i) for i = 0, 1, … on streams goroutines until more(i)
// is false or ctx is done; it returns the wall time it took.
func forEach(ctx context.Context, streams int, more func(i int) bool, fn func(worker, i int)) time.Duration {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range streams {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if ctx.Err() != nil || !more(i) {
					return
				}
				fn(w, i)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// below is a more func for forEach over [0, n).
func below(n int) func(int) bool { return func(i int) bool { return i < n } }

// cleanup deletes every object under the run's prefix, aborts its
// multipart uploads, and deletes the bucket if the run created it.
func (r *runner) cleanup(ctx context.Context) {
	c := &r.rep.Cleanup
	fail := r.cleanupFail
	if !r.ready {
		return // no bucket, nothing written
	}
	b := aws.String(r.o.Bucket)
	pg := s3.NewListObjectsV2Paginator(r.c, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String(r.prefix)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			if !isNoSuchBucket(err) {
				fail(fmt.Errorf("list %s: %w", r.prefix, err))
			}
			return
		}
		var keys []string
		for _, obj := range page.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
		n, errs := r.deleteKeys(ctx, keys)
		c.Deleted += n
		for _, err := range errs {
			fail(err)
		}
	}
	up, err := r.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b, Prefix: aws.String(r.prefix)})
	if err == nil {
		for _, u := range up.Uploads {
			if _, err := r.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: u.Key, UploadId: u.UploadId}); err != nil {
				fail(fmt.Errorf("abort upload %s: %w", aws.ToString(u.Key), err))
			}
		}
	} else if !isNotImplemented(err) {
		fail(fmt.Errorf("list multipart uploads: %w", err))
	}
	if r.rep.Params.BucketCreated {
		if _, err := r.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
			fail(fmt.Errorf("delete bucket %s: %w", r.o.Bucket, err))
		} else {
			c.BucketDeleted = true
		}
	}
}

// deleteKeys deletes keys with DeleteObjects, or one by one when the
// server does not implement it.
func (r *runner) deleteKeys(ctx context.Context, keys []string) (int64, []error) {
	if len(keys) == 0 {
		return 0, nil
	}
	b := aws.String(r.o.Bucket)
	ids := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := r.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err == nil {
		var errs []error
		for _, e := range out.Errors {
			errs = append(errs, fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message)))
		}
		return int64(len(keys) - len(out.Errors)), errs
	}
	if !isNotImplemented(err) {
		return 0, []error{fmt.Errorf("delete %d objects: %w", len(keys), err)}
	}
	var n int64
	var errs []error
	for _, k := range keys {
		if _, err := r.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String(k)}); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", k, err))
		} else {
			n++
		}
	}
	return n, errs
}

func isNotImplemented(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotImplemented" || ae.ErrorCode() == "MethodNotAllowed")
}

func isNoSuchBucket(err error) bool {
	var nsb *types.NoSuchBucket
	var ae smithy.APIError
	return errors.As(err, &nsb) || errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
