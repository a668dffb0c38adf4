package s3api

import (
	"encoding/xml"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestURLEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b.txt":   "a%20b.txt",
		"a+b.txt":   "a%2Bb.txt",
		"100%.csv":  "100%25.csv",
		"한/x.txt":   "%ED%95%9C/x.txt",
		"dir/~x_-.": "dir/~x_-.",
		"\x01<&>":   "%01%3C%26%3E",
	} {
		if got := urlEncode(in); got != want {
			t.Errorf("urlEncode(%q) = %q, want %q", in, got, want)
		}
		// Both ways clients decode give the key back.
		if d, _ := url.PathUnescape(want); d != in {
			t.Errorf("PathUnescape(%q) = %q", want, d)
		}
		if d, _ := url.QueryUnescape(want); d != in {
			t.Errorf("QueryUnescape(%q) = %q", want, d)
		}
	}
}

func TestListObjectsV2(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	keys := []string{"a", "b/1", "b/2", "c d/x", "e", "f"}
	for _, k := range keys {
		e.mustPut("bkt", k, k)
	}
	ctx := t.Context()

	// The SDK paginator follows NextContinuationToken.
	var got []string
	p := s3.NewListObjectsV2Paginator(e.client, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if aws.ToInt32(out.KeyCount) != int32(len(out.Contents)) || aws.ToInt32(out.MaxKeys) != 2 {
			t.Errorf("KeyCount %d MaxKeys %d with %d keys", aws.ToInt32(out.KeyCount), aws.ToInt32(out.MaxKeys), len(out.Contents))
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
			if o.Owner != nil {
				t.Error("Owner without fetch-owner")
			}
			if o.StorageClass != types.ObjectStorageClassStandard || aws.ToString(o.ETag) == "" || o.LastModified == nil {
				t.Errorf("entry %+v", o)
			}
		}
	}
	if !slices.Equal(got, keys) || pages != 3 {
		t.Fatalf("paginated keys %v in %d pages", got, pages)
	}

	out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), FetchOwner: aws.Bool(true), StartAfter: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 2 || len(out.CommonPrefixes) != 2 || aws.ToString(out.CommonPrefixes[1].Prefix) != "c d/" ||
		out.Contents[0].Owner == nil || aws.ToString(out.StartAfter) != "a" || aws.ToInt32(out.KeyCount) != 4 {
		t.Fatalf("delimited: %+v", out)
	}
	if e.fake.lastList.After != "a" || e.fake.lastList.Delimiter != "/" || e.fake.lastList.MaxKeys != 1000 {
		t.Errorf("backend input %+v", e.fake.lastList)
	}

	// encoding-type=url encodes keys, prefixes and the delimiter.
	resp, body := e.do("GET", "/bkt?list-type=2&encoding-type=url&delimiter=%2F&prefix=c%20", nil, nil)
	wantStatus(t, resp, body, 200, "")
	for _, want := range []string{"<Prefix>c%20</Prefix>", "<CommonPrefixes><Prefix>c%20d/</Prefix></CommonPrefixes>", "<EncodingType>url</EncodingType>", "<Delimiter>/</Delimiter>"} {
		if !contains(body, want) {
			t.Errorf("missing %s in %s", want, body)
		}
	}

	for _, tc := range []struct{ query, code string }{
		{"list-type=2&max-keys=-1", "InvalidArgument"},
		{"list-type=2&max-keys=x", "InvalidArgument"},
		{"list-type=2&encoding-type=base64", "InvalidArgument"},
		{"list-type=2&continuation-token=%21%21", "InvalidArgument"},
		{"list-type=2&continuation-token=", "InvalidArgument"},
	} {
		resp, body := e.do("GET", "/bkt?"+tc.query, nil, nil)
		wantStatus(t, resp, body, 400, tc.code)
	}
	resp, body = e.do("GET", "/bkt?list-type=2&max-keys=5000", nil, nil)
	wantStatus(t, resp, body, 200, "")
	if e.fake.lastList.MaxKeys != 1000 || !contains(body, "<MaxKeys>1000</MaxKeys>") {
		t.Errorf("max-keys 5000 not clamped: %d", e.fake.lastList.MaxKeys)
	}
	resp, body = e.do("GET", "/bkt?list-type=2&max-keys=0", nil, nil)
	wantStatus(t, resp, body, 200, "")
	if !contains(body, "<KeyCount>0</KeyCount>") || !contains(body, "<IsTruncated>false</IsTruncated>") {
		t.Errorf("max-keys=0: %s", body)
	}
	// A token wins over start-after.
	tok := encodeToken("e")
	resp, body = e.do("GET", "/bkt?list-type=2&start-after=a&continuation-token="+tok, nil, nil)
	wantStatus(t, resp, body, 200, "")
	if e.fake.lastList.After != "e" || !contains(body, "<ContinuationToken>"+tok+"</ContinuationToken>") {
		t.Errorf("token: after %q, body %s", e.fake.lastList.After, body)
	}
}

func TestListObjectsV1(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	for _, k := range []string{"a/1", "a/2", "b", "c"} {
		e.mustPut("bkt", k, k)
	}
	out, err := e.client.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2), Marker: aws.String("a/1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 2 || !aws.ToBool(out.IsTruncated) || out.NextMarker != nil || aws.ToString(out.Marker) != "a/1" || out.Contents[0].Owner == nil {
		t.Fatalf("v1 without delimiter (no NextMarker): %+v", out)
	}
	out, err = e.client.ListObjects(t.Context(), &s3.ListObjectsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CommonPrefixes) != 1 || len(out.Contents) != 1 || aws.ToString(out.NextMarker) != "b" {
		t.Fatalf("v1 with delimiter: %+v", out)
	}
}

func TestListObjectVersions(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	e.mustPut("bkt", "old", "unversioned") // the null version
	ctx := t.Context()
	if _, err := e.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bkt"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	e.mustPut("bkt", "k", "1")
	if _, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	e.mustPut("bkt", "k", "2")

	// Raw XML: Version and DeleteMarker interleaved in the backend's order.
	resp, body := e.do("GET", "/bkt?versions", nil, nil)
	wantStatus(t, resp, body, 200, "")
	d := xml.NewDecoder(strings.NewReader(string(body)))
	var order []string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "Version" || se.Name.Local == "DeleteMarker") {
			order = append(order, se.Name.Local)
		}
	}
	if want := []string{"Version", "DeleteMarker", "Version", "Version"}; !slices.Equal(order, want) {
		t.Fatalf("element order %v, want %v\n%s", order, want, body)
	}
	if contains(body, `xmlns=""`) {
		t.Errorf("an element left the S3 namespace: %s", body)
	}
	if !contains(body, "<VersionId>null</VersionId>") {
		t.Errorf("no null version: %s", body)
	}

	out, err := e.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("bkt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Versions) != 3 || len(out.DeleteMarkers) != 1 || !aws.ToBool(out.Versions[0].IsLatest) || aws.ToBool(out.Versions[1].IsLatest) {
		t.Fatalf("SDK view: %+v %+v", out.Versions, out.DeleteMarkers)
	}
	page, err := e.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2)})
	if err != nil || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextKeyMarker) != "k" || aws.ToString(page.NextVersionIdMarker) == "" {
		t.Fatalf("page: %v %+v", err, page)
	}
	page, err = e.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2),
		KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker})
	if err != nil || len(page.Versions) != 2 || aws.ToString(page.Versions[1].Key) != "old" || aws.ToString(page.Versions[1].VersionId) != "null" {
		t.Fatalf("page 2: %v %+v", err, page)
	}
	if e.fake.lastVersions.KeyMarker != "k" || e.fake.lastVersions.MaxKeys != 2 {
		t.Errorf("backend input %+v", e.fake.lastVersions)
	}
	resp, body = e.do("GET", "/bkt?versions&version-id-marker=x", nil, nil)
	wantStatus(t, resp, body, 400, "InvalidArgument")
}

// TestListControlCharacters: keys holding characters XML 1.0 cannot carry
// list as AWS lists them, as character references, each its own (not all
// as U+FFFD); with encoding-type=url they are percent-encoded.
func TestListControlCharacters(t *testing.T) {
	e := newEnv(t, newFakeBackend())
	e.mustBucket("bkt")
	for _, k := range []string{"a\x01b", "a\x02b", "a\rb", "a\uE000b"} {
		e.mustPut("bkt", k, "x")
	}
	_, body := e.do("GET", "/bkt?list-type=2", nil, nil)
	for _, want := range []string{"<Key>a&#x1;b</Key>", "<Key>a&#x2;b</Key>", "<Key>a&#xD;b</Key>", "<Key>a&#xe000;b</Key>"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("listing lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "\uFFFD") {
		t.Errorf("a key listed as U+FFFD:\n%s", body)
	}
	_, body = e.do("GET", "/bkt?list-type=2&encoding-type=url", nil, nil)
	if !strings.Contains(string(body), "<Key>a%01b</Key>") {
		t.Errorf("encoding-type=url:\n%s", body)
	}
}
