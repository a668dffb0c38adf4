package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// maxRange bounds get's random range reads.
const maxRange = 1 << 20

// runGet reads back what put wrote on Streams streams: every object whole
// (phase get), then RangeReads random ranges of up to 1 MiB (phase
// get-range). Every byte is checked against the data put generated; a
// body that differs, or is short or long, is a failed operation.
func (r *runner) runGet(ctx context.Context) error {
	objs := r.put
	note := ""
	if len(objs) == 0 {
		note = "put wrote no objects: nothing to read"
	}
	var total int64
	for _, obj := range objs {
		total += obj.size
	}
	m := r.phase("get", total)
	col := newCollector(m)
	elapsed := forEach(ctx, r.o.Streams, below(len(objs)), func(_, i int) {
		obj := objs[i]
		start := time.Now()
		n, err := r.getObject(ctx, obj, 0, obj.size, false)
		if err != nil {
			if ctx.Err() == nil {
				col.fail(fmt.Errorf("get %s: %w", obj.key, err))
			}
			return
		}
		col.ok(time.Since(start), n)
	})
	r.endPhase(m)
	ph := col.phase("get", WorkloadGet, elapsed)
	ph.Note = note
	r.rep.Phases = append(r.rep.Phases, ph)
	if err := ctx.Err(); err != nil {
		return err
	}

	type pick struct {
		obj    object
		off, n int64
	}
	var picks []pick
	if len(objs) > 0 {
		rng := rand.New(rand.NewChaCha8(deriveKey(domainPick, uint64(r.o.Seed))))
		for range r.o.RangeReads {
			obj := objs[rng.IntN(len(objs))]
			if obj.size == 0 {
				continue
			}
			n := 1 + rng.Int64N(min(obj.size, maxRange))
			picks = append(picks, pick{obj: obj, off: rng.Int64N(obj.size - n + 1), n: n})
		}
	}
	m = r.phase("get-range", 0)
	col = newCollector(m)
	elapsed = forEach(ctx, r.o.Streams, below(len(picks)), func(_, i int) {
		p := picks[i]
		start := time.Now()
		n, err := r.getObject(ctx, p.obj, p.off, p.n, true)
		if err != nil {
			if ctx.Err() == nil {
				col.fail(fmt.Errorf("get %s bytes %d-%d: %w", p.obj.key, p.off, p.off+p.n-1, err))
			}
			return
		}
		col.ok(time.Since(start), n)
	})
	r.endPhase(m)
	ph = col.phase("get-range", WorkloadGet, elapsed)
	ph.Note = note
	r.rep.Phases = append(r.rep.Phases, ph)
	return nil
}

// getObject reads n bytes of obj at off (the whole object unless ranged)
// and checks them.
func (r *runner) getObject(ctx context.Context, obj object, off, n int64, ranged bool) (int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(r.o.Bucket), Key: aws.String(obj.key)}
	if ranged {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	out, err := r.c.GetObject(ctx, in)
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength != n {
		return 0, fmt.Errorf("content length %d, want %d", *out.ContentLength, n)
	}
	return verify(out.Body, newObjectData(r.o.Seed, obj.id, obj.size), off, n)
}
