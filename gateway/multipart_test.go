package gateway

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

func uploadPart(t testing.TB, g *Gateway, bucket, key, id string, n int, data []byte) s3api.PartInfo {
	t.Helper()
	p, err := g.UploadPart(t.Context(), s3api.UploadPartInput{Bucket: bucket, Key: key, UploadID: id, PartNumber: n, Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatalf("part %d: %v", n, err)
	}
	return p
}

func TestMultipartComplete(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "big", Meta: s3api.ObjectMeta{ContentType: "application/x-tar", User: map[string]string{"host": "db1"}}})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{random(1, 3000), random(2, 2048), random(3, 100)}
	var infos []s3api.PartInfo
	for i, p := range parts {
		infos = append(infos, uploadPart(t, g, "b", "big", id, i+1, p))
	}
	// Part 4 is small and, unless last, makes completion fail.
	small := uploadPart(t, g, "b", "big", id, 4, []byte("tiny"))
	// Part 2 uploaded again: the first upload's manifest is released.
	infos[1] = uploadPart(t, g, "b", "big", id, 2, parts[1])

	cp := func(n int, etag string) s3api.CompletePart { return s3api.CompletePart{PartNumber: n, ETag: etag} }
	cases := []struct {
		name   string
		upload string
		parts  []s3api.CompletePart
		want   *s3api.Error
	}{
		{"no parts", id, nil, s3api.ErrMalformedXML},
		{"unknown upload", formatID(newUID(1)), []s3api.CompletePart{cp(1, infos[0].ETag)}, s3api.ErrNoSuchUpload},
		{"malformed upload", "zzz", []s3api.CompletePart{cp(1, infos[0].ETag)}, s3api.ErrNoSuchUpload},
		{"part never uploaded", id, []s3api.CompletePart{cp(1, infos[0].ETag), cp(7, infos[0].ETag)}, s3api.ErrInvalidPart},
		{"wrong ETag", id, []s3api.CompletePart{cp(1, infos[1].ETag)}, s3api.ErrInvalidPart},
		{"descending", id, []s3api.CompletePart{cp(2, infos[1].ETag), cp(1, infos[0].ETag)}, s3api.ErrInvalidPartOrder},
		{"repeated", id, []s3api.CompletePart{cp(1, infos[0].ETag), cp(1, infos[0].ETag)}, s3api.ErrInvalidPartOrder},
		{"small part not last", id, []s3api.CompletePart{cp(1, infos[0].ETag), cp(4, small.ETag), cp(5, small.ETag)}, s3api.ErrInvalidPart},
		{"small part not last (all exist)", id, []s3api.CompletePart{cp(3, infos[2].ETag), cp(4, small.ETag)}, s3api.ErrEntityTooSmall},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.CompleteMultipartUpload(ctx, "b", "big", tc.upload, tc.parts, "", "")
			wantErr(t, err, tc.want)
		})
	}
	// Failures changed nothing: the upload still lists its four parts.
	lp, err := g.ListParts(ctx, "b", "big", id, 0, 1000)
	if err != nil || len(lp.Parts) != 4 || lp.Upload.Meta.ContentType != "application/x-tar" {
		t.Fatalf("parts after failures: %+v %v", lp, err)
	}

	// Quoted ETags are accepted; part 4 is left out and discarded.
	info, err := g.CompleteMultipartUpload(ctx, "b", "big", id, []s3api.CompletePart{
		cp(1, `"`+infos[0].ETag+`"`), cp(2, infos[1].ETag), cp(3, infos[2].ETag)}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	var whole []byte
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
		whole = append(whole, p...)
	}
	if want := hex.EncodeToString(h.Sum(nil)) + "-3"; info.ETag != want || info.PartsCount != 3 || info.Size != int64(len(whole)) {
		t.Fatalf("completed %+v, want ETag %s", info, want)
	}
	got, oi, err := get(t, g, "b", "big", "")
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(whole))
	}
	if oi.Meta.ContentType != "application/x-tar" || oi.Meta.User["host"] != "db1" || oi.ETag != info.ETag {
		t.Fatalf("object info %+v", oi)
	}
	_, err = g.ListParts(ctx, "b", "big", id, 0, 1000)
	wantErr(t, err, s3api.ErrNoSuchUpload)
	_, err = g.CompleteMultipartUpload(ctx, "b", "big", id, []s3api.CompletePart{cp(1, infos[0].ETag)}, "", "")
	wantErr(t, err, s3api.ErrNoSuchUpload)
	_, err = g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "big", UploadID: id, PartNumber: 1, Body: bytes.NewReader(nil), Size: 0})
	wantErr(t, err, s3api.ErrNoSuchUpload)
	// The cleanup audit proves parts 1-4 and the replaced part 2 were released.
}

func TestMultipartConditionalComplete(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	put(t, g, "b", "k", []byte("exists"))
	id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "k"})
	p := uploadPart(t, g, "b", "k", id, 1, []byte("new"))
	_, err := g.CompleteMultipartUpload(ctx, "b", "k", id, []s3api.CompletePart{{PartNumber: 1, ETag: p.ETag}}, "", "*")
	wantErr(t, err, s3api.ErrPreconditionFailed)
	// The upload survives a failed condition, as in S3.
	if _, err := g.CompleteMultipartUpload(ctx, "b", "k", id, []s3api.CompletePart{{PartNumber: 1, ETag: p.ETag}}, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, g, "b", "k", ""); string(got) != "new" {
		t.Fatalf("got %q", got)
	}
}

func TestMultipartAbort(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "k"})
	uploadPart(t, g, "b", "k", id, 1, random(4, 5000))
	uploadPart(t, g, "b", "k", id, 2, random(5, 5000))
	wantErr(t, g.AbortMultipartUpload(ctx, "b", "other", id), s3api.ErrNoSuchUpload)
	if err := g.AbortMultipartUpload(ctx, "b", "k", id); err != nil {
		t.Fatal(err)
	}
	wantErr(t, g.AbortMultipartUpload(ctx, "b", "k", id), s3api.ErrNoSuchUpload)
	st, err := g.groups[DefaultGroup].store.Stats(ctx)
	if err != nil || st.Manifests != 0 {
		t.Fatalf("after abort: %+v %v", st, err)
	}
}

func TestMultipartChecksumComposite(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "k", ChecksumAlgorithm: "SHA256"})
	var raw []byte
	var list []s3api.CompletePart
	for n, data := range [][]byte{random(6, 2000), random(7, 10)} {
		sum := sha256.Sum256(data)
		raw = append(raw, sum[:]...)
		ck := s3api.Checksum{Algorithm: "SHA256", Value: base64.StdEncoding.EncodeToString(sum[:])}
		md := md5.Sum(data)
		p, err := g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "k", UploadID: id, PartNumber: n + 1,
			Body: bytes.NewReader(data), Size: int64(len(data)),
			Digest: func() s3api.Digest { return s3api.Digest{MD5: md[:], Checksum: ck} }})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, s3api.CompletePart{PartNumber: n + 1, ETag: p.ETag, Checksum: ck})
	}
	info, err := g.CompleteMultipartUpload(ctx, "b", "k", id, list, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	want := s3api.Checksum{Algorithm: "SHA256", Value: base64.StdEncoding.EncodeToString(sum[:]) + "-2", Type: "COMPOSITE"}
	if info.Checksum != want {
		t.Fatalf("checksum %+v, want %+v", info.Checksum, want)
	}
}

func TestUploadPartCopy(t *testing.T) {
	cfg := testConfig(t)
	cfg.Groups = map[string]string{"fast": t.TempDir()}
	g := open(t, cfg)
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	if err := g.CreateBucket(ctx, "hot", "fast"); err != nil {
		t.Fatal(err)
	}
	src := random(8, 10000)
	put(t, g, "b", "src", src)
	id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "hot", Key: "dst"})
	cases := []struct {
		n           int
		ranged      bool
		first, last int64
		want        []byte
	}{
		{1, true, 0, 4095, src[:4096]},
		{2, true, 4096, 9999, src[4096:]},
	}
	var list []s3api.CompletePart
	for _, tc := range cases {
		p, err := g.UploadPartCopy(ctx, s3api.UploadPartCopyInput{Bucket: "hot", Key: "dst", UploadID: id, PartNumber: tc.n,
			SrcBucket: "b", SrcKey: "src", Ranged: tc.ranged, First: tc.first, Last: tc.last})
		if err != nil {
			t.Fatal(err)
		}
		if sum := md5.Sum(tc.want); p.ETag != hex.EncodeToString(sum[:]) || p.Size != int64(len(tc.want)) {
			t.Fatalf("part %d: %+v", tc.n, p)
		}
		list = append(list, s3api.CompletePart{PartNumber: tc.n, ETag: p.ETag})
	}
	for _, r := range [][2]int64{{0, 10000}, {5, 4}, {-1, 3}} {
		_, err := g.UploadPartCopy(ctx, s3api.UploadPartCopyInput{Bucket: "hot", Key: "dst", UploadID: id, PartNumber: 3,
			SrcBucket: "b", SrcKey: "src", Ranged: true, First: r[0], Last: r[1]})
		wantErr(t, err, s3api.ErrInvalidRange)
	}
	_, err := g.UploadPartCopy(ctx, s3api.UploadPartCopyInput{Bucket: "hot", Key: "dst", UploadID: id, PartNumber: 3, SrcBucket: "b", SrcKey: "nokey"})
	wantErr(t, err, s3api.ErrNoSuchKey)
	if _, err := g.CompleteMultipartUpload(ctx, "hot", "dst", id, list, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, g, "hot", "dst", ""); !bytes.Equal(got, src) {
		t.Fatal("copied parts differ from the source")
	}

	// Unranged within a group shares chunks and keeps the source's ETag.
	id2, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "dst2"})
	p, err := g.UploadPartCopy(ctx, s3api.UploadPartCopyInput{Bucket: "b", Key: "dst2", UploadID: id2, PartNumber: 1, SrcBucket: "b", SrcKey: "src"})
	if sum := md5.Sum(src); err != nil || p.ETag != hex.EncodeToString(sum[:]) {
		t.Fatalf("unranged copy: %+v %v", p, err)
	}
	if err := g.AbortMultipartUpload(ctx, "b", "dst2", id2); err != nil {
		t.Fatal(err)
	}
}

// TestListParts10000 pages through an upload with every part number. The
// part records are written straight into the records, naming no real
// manifest; they are removed before the upload is aborted.
func TestListParts10000(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: "k"})
	p1 := uploadPart(t, g, "b", "k", id, 1, []byte("x"))
	uid, _ := parseID(id)
	err := g.updateBucket("b", func(_ *chunkstore.Tx, k *bkt) error {
		var rec partRecord
		if err := decode(k.prt.Get(partKey(uid, 1)), &rec); err != nil {
			return err
		}
		for n := 2; n <= maxParts; n++ {
			r := rec
			r.ETag = fmt.Sprintf("%032d", n)
			r.Manifest = chunkstore.ManifestID(1 << 40) // not a real manifest; see the cleanup below
			v, _ := encode(r)
			if err := k.prt.Put(partKey(uid, n), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The made-up parts first: no manifest backs them.
		g.updateBucket("b", func(_ *chunkstore.Tx, k *bkt) error {
			for n := 2; n <= maxParts; n++ {
				k.prt.Delete(partKey(uid, n))
			}
			return nil
		})
		if err := g.AbortMultipartUpload(ctx, "b", "k", id); err != nil {
			t.Error(err)
		}
	})
	for _, max := range []int{1000, 999, 7} {
		marker, seen := 0, 0
		for {
			res, err := g.ListParts(ctx, "b", "k", id, marker, max)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Parts {
				seen++
				if p.PartNumber != seen {
					t.Fatalf("max %d: part %d where %d was due", max, p.PartNumber, seen)
				}
			}
			if !res.IsTruncated {
				break
			}
			if len(res.Parts) != max || res.NextPartNumberMarker != seen {
				t.Fatalf("max %d: page of %d, next marker %d after %d", max, len(res.Parts), res.NextPartNumberMarker, seen)
			}
			marker = res.NextPartNumberMarker
			if max == 7 && seen > 100 && seen < 9990 {
				marker = 9990 // jump once: the tail pages end exactly at 10000
				seen = 9990
			}
		}
		if seen != maxParts {
			t.Fatalf("max %d: saw %d parts", max, seen)
		}
	}
	res, err := g.ListParts(ctx, "b", "k", id, 0, 5000)
	if err != nil || len(res.Parts) != maxParts/10 || res.Parts[0].ETag != p1.ETag {
		t.Fatalf("a page above 1000 is capped at 1000: %d parts, %v", len(res.Parts), err)
	}
}

func TestListMultipartUploads(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	newBucket(t, g, "b", s3api.VersioningUnset)
	var want []string
	for _, k := range []string{"a", "a", "b/1", "b/2", "c", "c", "c"} {
		id, err := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: "b", Key: k})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, k+"@"+id)
	}
	for _, max := range []int{1, 2, 3, 1000} {
		var got []string
		in := s3api.ListUploadsInput{Bucket: "b", MaxUploads: max}
		for {
			res, err := g.ListMultipartUploads(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range res.Uploads {
				got = append(got, u.Key+"@"+u.UploadID)
			}
			if !res.IsTruncated {
				break
			}
			in.KeyMarker, in.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("max %d:\n got %v\nwant %v", max, got, want)
		}
	}
	res, err := g.ListMultipartUploads(ctx, s3api.ListUploadsInput{Bucket: "b", Delimiter: "/", MaxUploads: 1000})
	if err != nil || len(res.Uploads) != 5 || len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != "b/" {
		t.Fatalf("with delimiter: %+v %v", res, err)
	}
	for _, w := range want {
		var k, id string
		fmt.Sscanf(w, "%s", &k)
		for i := range w {
			if w[i] == '@' {
				k, id = w[:i], w[i+1:]
			}
		}
		if err := g.AbortMultipartUpload(ctx, "b", k, id); err != nil {
			t.Fatal(strconv.Quote(w), err)
		}
	}
}

// TestMultipartCompleteRetried: a Complete repeated after its answer was lost
// answers the same object, as S3 does; a different parts list, another key,
// or a deleted object still get NoSuchUpload.
func TestMultipartCompleteRetried(t *testing.T) {
	g := open(t, testConfig(t))
	ctx := t.Context()
	for _, v := range []s3api.Versioning{s3api.VersioningUnset, s3api.VersioningEnabled} {
		bucket := "b-" + strings.ToLower(string(v)) + "x"
		newBucket(t, g, bucket, v)
		id, _ := g.CreateMultipartUpload(ctx, s3api.UploadInfo{Bucket: bucket, Key: "k"})
		p1 := uploadPart(t, g, bucket, "k", id, 1, random(1, 2<<10))
		p2 := uploadPart(t, g, bucket, "k", id, 2, random(2, 100))
		parts := []s3api.CompletePart{{PartNumber: 1, ETag: p1.ETag}, {PartNumber: 2, ETag: p2.ETag}}
		first, err := g.CompleteMultipartUpload(ctx, bucket, "k", id, parts, "", "")
		if err != nil {
			t.Fatal(err)
		}
		again, err := g.CompleteMultipartUpload(ctx, bucket, "k", id, parts, "", "")
		if err != nil || again.ETag != first.ETag || again.VersionID != first.VersionID {
			t.Fatalf("%s: retried Complete: %+v, %v; first %+v", v, again, err, first)
		}
		_, err = g.CompleteMultipartUpload(ctx, bucket, "k", id, parts[:1], "", "")
		wantErr(t, err, s3api.ErrNoSuchUpload)
		_, err = g.CompleteMultipartUpload(ctx, bucket, "other", id, parts, "", "")
		wantErr(t, err, s3api.ErrNoSuchUpload)
		if _, err := g.DeleteObject(ctx, bucket, "k", first.VersionID); err != nil {
			t.Fatal(err)
		}
		_, err = g.CompleteMultipartUpload(ctx, bucket, "k", id, parts, "", "")
		wantErr(t, err, s3api.ErrNoSuchUpload)
	}
}
