package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// object is one object that put wrote: its bytes are
// newObjectData(Seed, id, size).
type object struct {
	key  string
	id   uint64
	size int64
}

// runPut writes unique objects of ObjectSize on Streams streams until
// Duration has passed or Bytes are written. Each stream uploads one object
// at a time; objects of MultipartThreshold bytes or more go in parts, one
// part in flight per stream. Data is generated as it is sent: a stream
// holds at most a part (or a single-request object) in memory.
func (r *runner) runPut(ctx context.Context) error {
	o := r.o
	count := -1 // objects to write; -1: until the deadline
	if o.Bytes > 0 {
		count = int((o.Bytes + o.ObjectSize - 1) / o.ObjectSize)
	}
	var deadline time.Time
	if o.Duration > 0 {
		deadline = time.Now().Add(o.Duration)
	}
	more := func(i int) bool {
		return (count < 0 || i < count) && (deadline.IsZero() || time.Now().Before(deadline))
	}

	m := r.phase("put", o.Bytes)
	col := newCollector(m)
	up := r.uploader(1)
	bufs := make([][]byte, o.Streams)
	var mu sync.Mutex
	var written []object
	elapsed := forEach(ctx, o.Streams, more, func(w, i int) {
		size := o.ObjectSize
		if count >= 0 && i == count-1 {
			size = o.Bytes - int64(i)*o.ObjectSize
		}
		obj := object{key: fmt.Sprintf("%sput/%08d", r.prefix, i), id: uint64(i), size: size}
		if size < o.MultipartThreshold && int64(len(bufs[w])) < size {
			bufs[w] = make([]byte, size)
		}
		start := time.Now()
		if err := r.upload(ctx, up, obj.key, newObjectData(o.Seed, obj.id, size), size, bufs[w]); err != nil {
			if ctx.Err() == nil {
				col.fail(fmt.Errorf("put %s: %w", obj.key, err))
			}
			return
		}
		col.ok(time.Since(start), size)
		mu.Lock()
		written = append(written, obj)
		mu.Unlock()
	})
	r.endPhase(m)
	r.rep.Phases = append(r.rep.Phases, col.phase("put", WorkloadPut, elapsed))
	slices.SortFunc(written, func(a, b object) int { return int(a.id) - int(b.id) })
	r.put = written
	return nil
}

// uploader is a transfer manager with PartSize parts and concurrency parts
// in flight per upload. It aborts the multipart uploads that fail.
func (r *runner) uploader(concurrency int) *manager.Uploader {
	return manager.NewUploader(r.c, func(u *manager.Uploader) {
		u.PartSize = r.o.PartSize
		u.Concurrency = concurrency
	})
}

// upload writes size bytes from body to key: with one PutObject under
// MultipartThreshold, else with the transfer manager. A body that is not
// an io.ReadSeeker is read into buf first (the SDK signs the payload's
// hash, so it reads a single request's body twice).
func (r *runner) upload(ctx context.Context, up *manager.Uploader, key string, body io.Reader, size int64, buf []byte) error {
	in := &s3.PutObjectInput{Bucket: aws.String(r.o.Bucket), Key: aws.String(key)}
	if size >= r.o.MultipartThreshold {
		in.Body = body
		_, err := up.Upload(ctx, in)
		return err
	}
	rs, ok := body.(io.ReadSeeker)
	if !ok {
		if _, err := io.ReadFull(body, buf[:size]); err != nil {
			return err
		}
		rs = bytes.NewReader(buf[:size])
	}
	in.Body = rs
	in.ContentLength = aws.Int64(size)
	_, err := r.c.PutObject(ctx, in)
	return err
}
