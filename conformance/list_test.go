package conformance

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listKeys are the keys the listing tests put, in S3's (byte) order.
var listKeys = []string{"a", "b/1", "b/2", "b/c/3", "c-d", "c-e-f", "d"}

func listBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	c := newClient(t)
	b := newBucket(t, c)
	for _, k := range listKeys {
		put(t, c, b, k, []byte("data of "+k))
	}
	return c, b
}

func keysOf(objs []types.Object) []string {
	var r []string
	for _, o := range objs {
		r = append(r, aws.ToString(o.Key))
	}
	return r
}

func prefixesOf(cps []types.CommonPrefix) []string {
	var r []string
	for _, p := range cps {
		r = append(r, aws.ToString(p.Prefix))
	}
	return r
}

func TestListObjectsV2(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b})
	must(t, err, "ListObjectsV2")
	if got := keysOf(out.Contents); !slices.Equal(got, listKeys) {
		t.Errorf("keys %q; want %q", got, listKeys)
	}
	if aws.ToInt32(out.KeyCount) != int32(len(listKeys)) || aws.ToBool(out.IsTruncated) {
		t.Errorf("KeyCount %d IsTruncated %v; want %d false", aws.ToInt32(out.KeyCount), aws.ToBool(out.IsTruncated), len(listKeys))
	}
	if aws.ToString(out.Name) != b {
		t.Errorf("Name %q; want %q", aws.ToString(out.Name), b)
	}
	for _, o := range out.Contents {
		k := aws.ToString(o.Key)
		if aws.ToInt64(o.Size) != int64(len("data of "+k)) || unquote(o.ETag) != md5hex([]byte("data of "+k)) || o.LastModified == nil {
			t.Errorf("entry %s: Size %d ETag %s LastModified %v", k, aws.ToInt64(o.Size), unquote(o.ETag), o.LastModified)
		}
		if o.StorageClass != types.ObjectStorageClassStandard {
			t.Errorf("entry %s: StorageClass %q; want STANDARD", k, o.StorageClass)
		}
		if o.Owner != nil {
			t.Errorf("entry %s: Owner without fetch-owner", k)
		}
	}
}

func TestListObjectsV2Prefix(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"b/", []string{"b/1", "b/2", "b/c/3"}},
		{"c", []string{"c-d", "c-e-f"}},
		{"b/c/3", []string{"b/c/3"}},
		{"zzz", nil},
	} {
		out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String(tc.prefix)})
		must(t, err, "ListObjectsV2 prefix "+tc.prefix)
		if got := keysOf(out.Contents); !slices.Equal(got, tc.want) {
			t.Errorf("prefix %q: keys %q; want %q", tc.prefix, got, tc.want)
		}
		if aws.ToString(out.Prefix) != tc.prefix {
			t.Errorf("prefix %q: response Prefix %q", tc.prefix, aws.ToString(out.Prefix))
		}
		if int(aws.ToInt32(out.KeyCount)) != len(tc.want) {
			t.Errorf("prefix %q: KeyCount %d; want %d", tc.prefix, aws.ToInt32(out.KeyCount), len(tc.want))
		}
	}
}

func TestListObjectsV2Delimiter(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	for _, tc := range []struct {
		prefix, delim string
		keys, cps     []string
	}{
		{"", "/", []string{"a", "c-d", "c-e-f", "d"}, []string{"b/"}},
		{"b/", "/", []string{"b/1", "b/2"}, []string{"b/c/"}},
		{"b", "/", nil, []string{"b/"}},
		// Delimiters other than '/'.
		{"", "-", []string{"a", "b/1", "b/2", "b/c/3", "d"}, []string{"c-"}},
		{"c-", "-", []string{"c-d"}, []string{"c-e-"}},
		{"", "/c", []string{"a", "b/1", "b/2", "c-d", "c-e-f", "d"}, []string{"b/c"}},
		{"", "e", []string{"a", "b/1", "b/2", "b/c/3", "c-d", "d"}, []string{"c-e"}},
	} {
		what := fmt.Sprintf("prefix %q delimiter %q", tc.prefix, tc.delim)
		out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String(tc.prefix), Delimiter: aws.String(tc.delim)})
		must(t, err, "ListObjectsV2 "+what)
		if got := keysOf(out.Contents); !slices.Equal(got, tc.keys) {
			t.Errorf("%s: keys %q; want %q", what, got, tc.keys)
		}
		if got := prefixesOf(out.CommonPrefixes); !slices.Equal(got, tc.cps) {
			t.Errorf("%s: common prefixes %q; want %q", what, got, tc.cps)
		}
		if aws.ToString(out.Delimiter) != tc.delim {
			t.Errorf("%s: response Delimiter %q", what, aws.ToString(out.Delimiter))
		}
		if n := int(aws.ToInt32(out.KeyCount)); n != len(tc.keys)+len(tc.cps) {
			t.Errorf("%s: KeyCount %d; want %d (keys and common prefixes)", what, n, len(tc.keys)+len(tc.cps))
		}
	}
}

func TestListObjectsV2StartAfter(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	for _, tc := range []struct {
		after string
		want  []string
	}{
		{"b/2", []string{"b/c/3", "c-d", "c-e-f", "d"}},
		{"b", []string{"b/1", "b/2", "b/c/3", "c-d", "c-e-f", "d"}}, // need not be a key
		{"d", nil},
	} {
		out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, StartAfter: aws.String(tc.after)})
		must(t, err, "ListObjectsV2 start-after "+tc.after)
		if got := keysOf(out.Contents); !slices.Equal(got, tc.want) {
			t.Errorf("start-after %q: keys %q; want %q", tc.after, got, tc.want)
		}
		if aws.ToString(out.StartAfter) != tc.after {
			t.Errorf("start-after %q: response StartAfter %q", tc.after, aws.ToString(out.StartAfter))
		}
	}
}

func TestListObjectsV2ContinuationToken(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	var got []string
	var token *string
	for page := 0; ; page++ {
		if page > len(listKeys) {
			t.Fatalf("paging did not end after %d pages", page)
		}
		out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(2), ContinuationToken: token})
		must(t, err, "ListObjectsV2 max-keys 2")
		if len(out.Contents) > 2 || int(aws.ToInt32(out.KeyCount)) != len(out.Contents) {
			t.Errorf("page %d: %d entries, KeyCount %d, max-keys 2", page, len(out.Contents), aws.ToInt32(out.KeyCount))
		}
		if aws.ToInt32(out.MaxKeys) != 2 {
			t.Errorf("page %d: response MaxKeys %d; want 2", page, aws.ToInt32(out.MaxKeys))
		}
		if token != nil && aws.ToString(out.ContinuationToken) != *token {
			t.Errorf("page %d: response ContinuationToken %q; want the one sent", page, aws.ToString(out.ContinuationToken))
		}
		got = append(got, keysOf(out.Contents)...)
		if !aws.ToBool(out.IsTruncated) {
			if out.NextContinuationToken != nil {
				t.Errorf("last page has a NextContinuationToken")
			}
			break
		}
		if aws.ToString(out.NextContinuationToken) == "" {
			t.Fatalf("page %d truncated without NextContinuationToken", page)
		}
		token = out.NextContinuationToken
	}
	if !slices.Equal(got, listKeys) {
		t.Errorf("paged keys %q; want %q", got, listKeys)
	}

	// A continuation token wins over start-after.
	first, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(3)})
	must(t, err, "ListObjectsV2")
	second, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, ContinuationToken: first.NextContinuationToken, StartAfter: aws.String("a")})
	must(t, err, "ListObjectsV2 with a token and start-after")
	if g := keysOf(second.Contents); !slices.Equal(g, listKeys[3:]) {
		t.Errorf("token + start-after: keys %q; want %q", g, listKeys[3:])
	}

	_, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, ContinuationToken: aws.String("definitely-not-a-token!")})
	wantErr(t, err, 400, "InvalidArgument", "ListObjectsV2 with a garbage continuation token")
}

func TestListObjectsV2MaxKeysOne(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	for _, delim := range []string{"", "/"} {
		var got []string
		var token *string
		for page := 0; ; page++ {
			if page > len(listKeys)+1 {
				t.Fatalf("delimiter %q: paging did not end", delim)
			}
			in := &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(1), ContinuationToken: token}
			if delim != "" {
				in.Delimiter = &delim
			}
			out, err := c.ListObjectsV2(t.Context(), in)
			must(t, err, "ListObjectsV2 max-keys 1")
			entries := append(keysOf(out.Contents), prefixesOf(out.CommonPrefixes)...)
			if len(entries) != 1 && aws.ToBool(out.IsTruncated) {
				t.Errorf("delimiter %q page %d: %d entries with max-keys 1", delim, page, len(entries))
			}
			got = append(got, entries...)
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			token = out.NextContinuationToken
		}
		want := listKeys
		if delim == "/" {
			want = []string{"a", "b/", "c-d", "c-e-f", "d"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("delimiter %q: max-keys 1 paging gave %q; want %q", delim, got, want)
		}
	}
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(0)})
	must(t, err, "ListObjectsV2 max-keys 0")
	if len(out.Contents) != 0 || aws.ToBool(out.IsTruncated) {
		t.Errorf("max-keys 0: %d keys, IsTruncated %v; want none, false", len(out.Contents), aws.ToBool(out.IsTruncated))
	}
}

func TestListObjectsV2FetchOwner(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, FetchOwner: aws.Bool(true)})
	must(t, err, "ListObjectsV2 fetch-owner")
	acl, err := c.GetBucketAcl(t.Context(), &s3.GetBucketAclInput{Bucket: &b})
	must(t, err, "GetBucketAcl")
	for _, o := range out.Contents {
		if o.Owner == nil || aws.ToString(o.Owner.ID) == "" {
			t.Errorf("fetch-owner: %s has no Owner", aws.ToString(o.Key))
		} else if acl.Owner != nil && aws.ToString(o.Owner.ID) != aws.ToString(acl.Owner.ID) {
			t.Errorf("fetch-owner: %s Owner %q; the bucket's owner is %q", aws.ToString(o.Key), aws.ToString(o.Owner.ID), aws.ToString(acl.Owner.ID))
		}
	}
}

func TestListObjectsV1(t *testing.T) {
	t.Parallel()
	c, b := listBucket(t)
	// Paging by marker: without a delimiter S3 may omit NextMarker and the
	// client continues from the last key.
	var got []string
	marker := ""
	for page := 0; ; page++ {
		if page > len(listKeys) {
			t.Fatal("paging did not end")
		}
		out, err := c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: &b, MaxKeys: aws.Int32(3), Marker: aws.String(marker)})
		must(t, err, "ListObjects max-keys 3")
		if aws.ToString(out.Marker) != marker {
			t.Errorf("response Marker %q; want %q", aws.ToString(out.Marker), marker)
		}
		keys := keysOf(out.Contents)
		got = append(got, keys...)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if nm := aws.ToString(out.NextMarker); nm != "" && nm != keys[len(keys)-1] {
			t.Errorf("NextMarker %q; want the last key %q", nm, keys[len(keys)-1])
		}
		marker = keys[len(keys)-1]
	}
	if !slices.Equal(got, listKeys) {
		t.Errorf("ListObjects paging gave %q; want %q", got, listKeys)
	}

	// With a delimiter, a truncated page names its NextMarker.
	out, err := c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: &b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	must(t, err, "ListObjects delimiter / max-keys 2")
	if !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextMarker) != "b/" {
		t.Errorf("ListObjects delimiter / max-keys 2: IsTruncated %v NextMarker %q; want true, b/ (keys %q prefixes %q)",
			aws.ToBool(out.IsTruncated), aws.ToString(out.NextMarker), keysOf(out.Contents), prefixesOf(out.CommonPrefixes))
	}
	out, err = c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: &b, Delimiter: aws.String("/"), Marker: aws.String("b/")})
	must(t, err, "ListObjects delimiter / marker b/")
	if got := keysOf(out.Contents); !slices.Equal(got, []string{"c-d", "c-e-f", "d"}) || len(out.CommonPrefixes) != 0 {
		t.Errorf("after marker b/: keys %q prefixes %q; want [c-d c-e-f d] and none", got, prefixesOf(out.CommonPrefixes))
	}
	// ListObjects v1 lists owners by default.
	out, err = c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: &b, Prefix: aws.String("a")})
	must(t, err, "ListObjects prefix a")
	if len(out.Contents) != 1 || out.Contents[0].Owner == nil || aws.ToString(out.Contents[0].Owner.ID) == "" {
		t.Errorf("ListObjects v1 entry has no Owner: %+v", out.Contents)
	}
}

// oddKeys need encoding-type=url: a control character cannot be written in
// XML 1.0 at all.
var oddKeys = []string{"a b", "a+b", "ctl\x01char", "dir/sub dir/file", "pct%41", "ü/ñ"}

// decodeURL undoes S3's encoding-type=url (application/x-www-form-urlencoded
// style: the decoder botocore uses).
func decodeURL(t *testing.T, s string) string {
	t.Helper()
	d, err := url.QueryUnescape(s)
	if err != nil {
		t.Errorf("undecodable encoding-type=url value %q: %v", s, err)
		return s
	}
	return d
}

func TestListEncodingTypeURL(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	for _, k := range oddKeys {
		put(t, c, b, k, []byte("x"))
	}
	t.Cleanup(func() {
		// The cleanup helper lists without encoding; remove the keys XML cannot carry.
		for _, k := range oddKeys {
			c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String(k)})
		}
	})

	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, EncodingType: types.EncodingTypeUrl})
	must(t, err, "ListObjectsV2 encoding-type=url")
	if out.EncodingType != types.EncodingTypeUrl {
		t.Errorf("ListObjectsV2: response EncodingType %q; want url", out.EncodingType)
	}
	var got []string
	for _, o := range out.Contents {
		got = append(got, decodeURL(t, aws.ToString(o.Key)))
	}
	if !slices.Equal(got, oddKeys) {
		t.Errorf("ListObjectsV2 encoding-type=url: decoded keys %q; want %q", got, oddKeys)
	}

	out, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, EncodingType: types.EncodingTypeUrl, Prefix: aws.String("dir/"), Delimiter: aws.String("/")})
	must(t, err, "ListObjectsV2 encoding-type=url delimiter /")
	if len(out.CommonPrefixes) != 1 || decodeURL(t, aws.ToString(out.CommonPrefixes[0].Prefix)) != "dir/sub dir/" {
		t.Errorf("encoded common prefixes %q; want one that decodes to %q", prefixesOf(out.CommonPrefixes), "dir/sub dir/")
	}

	v1, err := c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: &b, EncodingType: types.EncodingTypeUrl})
	must(t, err, "ListObjects encoding-type=url")
	got = nil
	for _, o := range v1.Contents {
		got = append(got, decodeURL(t, aws.ToString(o.Key)))
	}
	if !slices.Equal(got, oddKeys) {
		t.Errorf("ListObjects encoding-type=url: decoded keys %q; want %q", got, oddKeys)
	}

	vs, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: &b, EncodingType: types.EncodingTypeUrl})
	must(t, err, "ListObjectVersions encoding-type=url")
	got = nil
	for _, v := range vs.Versions {
		got = append(got, decodeURL(t, aws.ToString(v.Key)))
	}
	if !slices.Equal(got, oddKeys) {
		t.Errorf("ListObjectVersions encoding-type=url: decoded keys %q; want %q", got, oddKeys)
	}

	// The decoded keys name the objects.
	for _, k := range got {
		if _, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String(k)}); err != nil {
			t.Errorf("HeadObject %q (a decoded listed key): %v", k, err)
		}
	}
	_, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, EncodingType: "base64"})
	wantErr(t, err, 400, "InvalidArgument", "ListObjectsV2 encoding-type=base64")
}

// TestListObjectsV2DefaultPage lists 1,001 keys without max-keys: S3 answers
// 1,000 and a continuation token, then the last one.
func TestListObjectsV2DefaultPage(t *testing.T) {
	t.Parallel()
	skipShort(t)
	c := newClient(t)
	b := newBucket(t, c)
	const n = 1001
	keys := make(chan int)
	errs := make(chan error, n)
	for range 8 {
		go func() {
			for i := range keys {
				_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String(fmt.Sprintf("k%05d", i)), Body: strings.NewReader("x")})
				errs <- err
			}
		}()
	}
	for i := range n {
		keys <- i
	}
	close(keys)
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("PutObject: %v", err)
		}
	}
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b})
	must(t, err, "ListObjectsV2")
	if len(out.Contents) != 1000 || !aws.ToBool(out.IsTruncated) || aws.ToInt32(out.MaxKeys) != 1000 {
		t.Fatalf("first page: %d keys, IsTruncated %v, MaxKeys %d; want 1000, true, 1000", len(out.Contents), aws.ToBool(out.IsTruncated), aws.ToInt32(out.MaxKeys))
	}
	out2, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, ContinuationToken: out.NextContinuationToken})
	must(t, err, "ListObjectsV2 page 2")
	if len(out2.Contents) != 1 || aws.ToString(out2.Contents[0].Key) != fmt.Sprintf("k%05d", n-1) || aws.ToBool(out2.IsTruncated) {
		t.Errorf("second page: %q truncated %v; want [k%05d] false", keysOf(out2.Contents), aws.ToBool(out2.IsTruncated), n-1)
	}
	// max-keys above 1000 is capped at 1000.
	out, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &b, MaxKeys: aws.Int32(5000)})
	must(t, err, "ListObjectsV2 max-keys 5000")
	if len(out.Contents) != 1000 || !aws.ToBool(out.IsTruncated) {
		t.Errorf("max-keys 5000: %d keys, IsTruncated %v; want 1000, true", len(out.Contents), aws.ToBool(out.IsTruncated))
	}
	v1, err := c.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: &b})
	must(t, err, "ListObjects")
	if len(v1.Contents) != 1000 || !aws.ToBool(v1.IsTruncated) {
		t.Errorf("ListObjects v1 default page: %d keys, IsTruncated %v; want 1000, true", len(v1.Contents), aws.ToBool(v1.IsTruncated))
	}
}
