package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
	"github.com/cairn-backup/cairn/tlsproxy/linktest"
)

// Failback: a relationship not in sync is not reversed; reversed with
// writers racing the switch, every write acknowledged by the old source is
// at the new one, refused writes are 503 SlowDown (retryable) or, once the
// switch is made, AccessDenied; at no moment do both take writes. The new
// source replicates back, and a reversal cut after the promotion (the
// link down, the old source restarted) finishes on its own.
func TestReplicationReverse(t *testing.T) {
	a, b := newSite(t), newSite(t)
	ctx := t.Context()
	link := linktest.New(t, strings.TrimPrefix(b.url, "http://"))
	if _, err := a.g.AddRemote(ctx, RemoteConfig{Name: "dr", Endpoint: "http://" + link.Addr(), AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.g.AddRemote(ctx, RemoteConfig{Name: "home", Endpoint: a.url, AccessKey: "rootkey", SecretKey: "rootsecret"}); err != nil {
		t.Fatal(err)
	}
	newBucket(t, a.g, "vms", s3api.VersioningEnabled)
	if err := a.g.AddReplication(ctx, ReplicationSpec{Bucket: "vms", Remote: "dr", ReplicaBucket: "vms-dr", DeleteMarkers: true}); err != nil {
		t.Fatal(err)
	}
	put(t, a.g, "vms", "base", random(1, 1<<20))
	if err := a.g.PauseReplication("vms", true); err != nil {
		t.Fatal(err)
	}
	put(t, a.g, "vms", "late", random(2, 1<<20))
	time.Sleep(300 * time.Millisecond)
	_, err := a.g.ReverseReplication(ctx, "vms", "home", false)
	var ae *AdminError
	if !errors.As(err, &ae) || ae.Code != "NotInSync" {
		t.Fatalf("reversing a relationship with changes pending: %v", err)
	}
	if err := a.g.PauseReplication("vms", false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.g.RunReplication(ctx, "vms"); err != nil {
		t.Fatal(err)
	}

	// Writers race the switch.
	var mu sync.Mutex
	acked := map[string]uint64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, seed := fmt.Sprintf("w%d-%03d", w, i), uint64(1000*w+i)
				_, err := a.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "vms", Key: key, Body: bytes.NewReader(random(seed, 64<<10)), Size: 64 << 10})
				switch {
				case err == nil:
					mu.Lock()
					acked[key] = seed
					mu.Unlock()
				case errors.Is(err, s3api.ErrSlowDown), errors.Is(err, s3api.ErrReadOnlyReplica):
					time.Sleep(5 * time.Millisecond)
				case ctx.Err() != nil:
					return
				default:
					t.Errorf("a write during the switch: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	res, err := a.g.ReverseReplication(ctx, "vms", "home", false)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("reversed in %.2fs: %d writes acknowledged by the old source", res.Seconds, len(acked))
	for key, seed := range acked {
		if !bytes.Equal(mustGet(t, b.g, "vms-dr", key, ""), random(seed, 64<<10)) {
			t.Fatalf("%s, acknowledged by the old source, is not at the new one", key)
		}
	}
	_, err = a.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "vms", Key: "x", Body: bytes.NewReader([]byte("x")), Size: 1})
	wantErr(t, err, s3api.ErrReadOnlyReplica)
	put(t, b.g, "vms-dr", "written-at-dr", []byte("after the failover"))
	if _, err := b.g.RunReplication(ctx, "vms-dr"); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, a.g, "vms", "written-at-dr", ""); string(got) != "after the failover" {
		t.Fatalf("the new source did not replicate back: %q", got)
	}
	if a1, b1 := listedVersions(t, a.c, "vms"), listedVersions(t, b.c, "vms-dr"); !slices.Equal(a1, b1) {
		t.Fatalf("after the reversal the sites differ:\nold source %q\nnew source %q", a1, b1)
	}

	// And back, cut after the promotion: B (the source now) reverses to A;
	// its link to A is its remote "home", direct; A's restart stands in
	// for a crash of the site that finishes it.
	blink := linktest.New(t, strings.TrimPrefix(a.url, "http://"))
	b.g.remotes.mu.Lock()
	c := b.g.remotes.list["home"]
	c.Endpoint = "http://" + blink.Addr()
	b.g.remotes.list["home"] = c
	b.g.remotes.mu.Unlock()
	b.g.stopSender("vms-dr")
	if err := b.g.startSender("vms-dr", replRecord{Remote: "home", Bucket: "vms", Rules: []replRule{{Enabled: true, DeleteMarkers: true}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		// When A is promoted, the link from B to A goes down for a while.
		for range 2000 {
			var promoting bool
			a.g.viewBucket("vms", func(_ *chunkstore.Tx, k *bkt) error { promoting = k.rec.Promoting; return nil })
			if promoting {
				blink.Down(2 * time.Second)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if _, err := b.g.ReverseReplication(ctx, "vms-dr", "dr", false); err == nil {
		t.Log("the reversal back was not cut (the link went down too late); it finished")
	} else {
		t.Logf("the reversal back was cut: %v", err)
		// Neither takes writes now: B is A's replica, A is promoting.
		_, err = a.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "vms", Key: "y", Body: bytes.NewReader([]byte("y")), Size: 1})
		wantErr(t, err, s3api.ErrSlowDown)
		b.restart(t) // the site that finishes it restarts: it goes on by itself
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := a.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "vms", Key: "home-again", Body: bytes.NewReader([]byte("z")), Size: 1})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reversal back did not finish: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = b.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "vms-dr", Key: "y", Body: bytes.NewReader([]byte("y")), Size: 1})
	wantErr(t, err, s3api.ErrReadOnlyReplica)
}
