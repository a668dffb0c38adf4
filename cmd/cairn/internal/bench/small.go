package bench

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// smallIDs offsets small's object ids from put's, so that their data
// differs.
const smallIDs = 1 << 40

// listPasses is how many times small lists its objects.
const listPasses = 3

// listPage is the LIST page size, S3's largest.
const listPage = 1000

// runSmall measures operations on small objects on Streams streams: PUT
// of SmallObjects objects of SmallSize bytes, GET (checking the bytes),
// HEAD (checking the size), LIST of them all listPasses times (one stream:
// a listing is sequential), and DELETE.
func (r *runner) runSmall(ctx context.Context) error {
	o := r.o
	b := aws.String(o.Bucket)
	prefix := r.prefix + "small/"
	key := func(i int) *string { return aws.String(fmt.Sprintf("%s%06d", prefix, i)) }
	data := func(i int) *objectData { return newObjectData(o.Seed, smallIDs+uint64(i), o.SmallSize) }

	all := make([]int, o.SmallObjects)
	for i := range all {
		all[i] = i
	}
	bufs := make([][]byte, o.Streams)
	for w := range bufs {
		bufs[w] = make([]byte, o.SmallSize)
	}
	stored := make([]bool, len(all)) // written by the worker of i only
	r.opsPhase(ctx, "small-put", all, func(w, i int) (int64, error) {
		buf := bufs[w]
		if _, err := data(i).ReadAt(buf, 0); err != nil {
			return 0, err
		}
		_, err := r.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: key(i), Body: bytes.NewReader(buf), ContentLength: aws.Int64(o.SmallSize)})
		if err != nil {
			return 0, fmt.Errorf("put %s: %w", *key(i), err)
		}
		stored[i] = true
		return o.SmallSize, nil
	})
	var have []int
	for i, ok := range stored {
		if ok {
			have = append(have, i)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	r.opsPhase(ctx, "small-get", have, func(_, i int) (int64, error) {
		out, err := r.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key(i)})
		if err != nil {
			return 0, fmt.Errorf("get %s: %w", *key(i), err)
		}
		defer out.Body.Close()
		n, err := verify(out.Body, data(i), 0, o.SmallSize)
		if err != nil {
			return 0, fmt.Errorf("get %s: %w", *key(i), err)
		}
		return n, nil
	})
	if err := ctx.Err(); err != nil {
		return err
	}

	r.opsPhase(ctx, "small-head", have, func(_, i int) (int64, error) {
		out, err := r.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key(i)})
		if err != nil {
			return 0, fmt.Errorf("head %s: %w", *key(i), err)
		}
		if got := aws.ToInt64(out.ContentLength); got != o.SmallSize {
			return 0, fmt.Errorf("head %s: Content-Length %d, want %d", *key(i), got, o.SmallSize)
		}
		return 0, nil
	})
	if err := ctx.Err(); err != nil {
		return err
	}

	r.listPhase(ctx, prefix, len(have))
	if err := ctx.Err(); err != nil {
		return err
	}

	r.opsPhase(ctx, "small-delete", have, func(_, i int) (int64, error) {
		if _, err := r.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: key(i)}); err != nil {
			return 0, fmt.Errorf("delete %s: %w", *key(i), err)
		}
		return 0, nil
	})
	return nil
}

// opsPhase runs op for each item on Streams streams and adds the phase
// to the report. op returns the payload bytes it moved.
func (r *runner) opsPhase(ctx context.Context, name string, items []int, op func(worker, i int) (int64, error)) {
	m := r.phase(name, 0)
	col := newCollector(m)
	elapsed := forEach(ctx, r.o.Streams, below(len(items)), func(w, j int) {
		start := time.Now()
		n, err := op(w, items[j])
		switch {
		case err != nil && ctx.Err() != nil:
			// Interrupted: not the server's failure.
		case err != nil:
			col.fail(err)
		default:
			col.ok(time.Since(start), n)
		}
	})
	r.endPhase(m)
	r.rep.Phases = append(r.rep.Phases, col.phase(name, WorkloadSmall, elapsed))
}

// listPhase lists prefix listPasses times, a page at a time, and checks
// that each pass finds want keys.
func (r *runner) listPhase(ctx context.Context, prefix string, want int) {
	m := r.phase("small-list", 0)
	col := newCollector(m)
	var keys int64
	start := time.Now()
	for pass := range listPasses {
		pg := s3.NewListObjectsV2Paginator(r.c, &s3.ListObjectsV2Input{
			Bucket: aws.String(r.o.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(listPage),
		})
		found := 0
		failed := false
		for pg.HasMorePages() {
			t := time.Now()
			page, err := pg.NextPage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					col.fail(fmt.Errorf("list %s (pass %d, after %d keys): %w", prefix, pass+1, found, err))
				}
				failed = true
				break
			}
			col.ok(time.Since(t), 0)
			found += len(page.Contents)
		}
		if !failed && found != want {
			col.fail(fmt.Errorf("list %s (pass %d): %d keys, want %d", prefix, pass+1, found, want))
		}
		keys += int64(found)
		if ctx.Err() != nil {
			break
		}
	}
	elapsed := time.Since(start)
	r.endPhase(m)
	ph := col.phase("small-list", WorkloadSmall, elapsed)
	ph.Keys = keys
	if s := elapsed.Seconds(); s > 0 {
		ph.KeysPerSec = float64(keys) / s
	}
	r.rep.Phases = append(r.rep.Phases, ph)
}
