package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestListBuckets(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b1, b2 := newBucket(t, c), newBucket(t, c)
	out, err := c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	must(t, err, "ListBuckets")
	found := map[string]types.Bucket{}
	for _, b := range out.Buckets {
		found[aws.ToString(b.Name)] = b
	}
	for _, name := range []string{b1, b2} {
		b, ok := found[name]
		if !ok {
			t.Errorf("ListBuckets does not list %s", name)
			continue
		}
		if cd := aws.ToTime(b.CreationDate); cd.IsZero() || time.Since(cd) > time.Hour || time.Until(cd) > 5*time.Minute {
			t.Errorf("bucket %s CreationDate %v; want about now", name, cd)
		}
	}
	if out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
		t.Errorf("ListBuckets has no Owner ID")
	}
	// Names come back in lexical order, as S3 lists them.
	for i := 1; i < len(out.Buckets); i++ {
		if aws.ToString(out.Buckets[i-1].Name) >= aws.ToString(out.Buckets[i].Name) {
			t.Errorf("ListBuckets not in order: %q before %q", aws.ToString(out.Buckets[i-1].Name), aws.ToString(out.Buckets[i].Name))
		}
	}
}

func TestCreateBucketValidNames(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	var r [6]byte
	rand.Read(r[:])
	sfx := hex.EncodeToString(r[:]) // 12 characters
	for _, name := range []string{
		sfx[:3], // 3 characters, the shortest
		"cf-" + sfx + "-" + strings.Repeat("a", 63-16), // 63 characters, the longest
		"cf.dots." + sfx, // periods
		"0cf-" + sfx,     // starts with a digit
	} {
		_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)})
		if err != nil {
			t.Errorf("CreateBucket %q (len %d): %v", name, len(name), err)
			continue
		}
		cleanupBucket(t, c, name)
		if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("HeadBucket %q after create: %v", name, err)
		}
	}
}

func TestCreateBucketInvalidName(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, name := range []string{
		"ab",                         // too short
		strings.Repeat("a", 64),      // too long
		"UpperCase-bucket-cf",        // upper case
		"under_score-bucket-cf",      // underscore
		"-starts-with-dash-cf",       // must start with a letter or digit
		"ends-with-dash-cf-",         // must end with a letter or digit
		"double..dots-cf",            // adjacent periods
		"192.168.5.4",                // IP address
		"xn--prefixed-bucket-cf",     // reserved prefix
		"suffixed-bucket-cf-s3alias", // reserved suffix
	} {
		_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)})
		if err == nil {
			cleanupBucket(t, c, name)
		}
		wantErr(t, err, 400, "InvalidBucketName", "CreateBucket "+name)
	}
}

// TestCreateBucketExisting: as AWS, creating a bucket you own again
// succeeds in us-east-1 (legacy compatibility) and is 409
// BucketAlreadyOwnedByYou in any other region.
func TestCreateBucketExisting(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b})
	if tgt.region == "us-east-1" {
		if err != nil {
			t.Fatalf("CreateBucket of an existing bucket in us-east-1: %v; AWS answers 200", err)
		}
		return
	}
	wantErr(t, err, 409, "BucketAlreadyOwnedByYou", "CreateBucket of an existing bucket")
}

func TestCreateBucketLocationConstraint(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := bucketName(t)
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{
		Bucket: &b,
		CreateBucketConfiguration: &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint("no-such-location-cf"),
		},
	})
	if err == nil {
		cleanupBucket(t, c, b)
	}
	wantErr(t, err, 400, "InvalidLocationConstraint", "CreateBucket with an unknown LocationConstraint")
	if _, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: &b}); err == nil {
		t.Errorf("the bucket exists after a refused CreateBucket")
	}

	// An empty CreateBucketConfiguration is the default location.
	b2 := bucketName(t)
	_, err = c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b2, CreateBucketConfiguration: &types.CreateBucketConfiguration{}})
	must(t, err, "CreateBucket with an empty CreateBucketConfiguration")
	cleanupBucket(t, c, b2)
}

func TestGetBucketLocation(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	out, err := c.GetBucketLocation(t.Context(), &s3.GetBucketLocationInput{Bucket: &b})
	must(t, err, "GetBucketLocation")
	// A bucket created without a LocationConstraint is in the default
	// location, which S3 answers as an empty LocationConstraint (us-east-1).
	if tgt.region == "us-east-1" && out.LocationConstraint != "" {
		t.Errorf("LocationConstraint %q; want empty", out.LocationConstraint)
	}
	_, err = c.GetBucketLocation(t.Context(), &s3.GetBucketLocationInput{Bucket: aws.String(bucketName(t))})
	wantErr(t, err, 404, "NoSuchBucket", "GetBucketLocation of a missing bucket")
}

func TestHeadBucket(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: &b})
	must(t, err, "HeadBucket")
	_, err = c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(bucketName(t))})
	// HEAD has no body: the SDK names the error after the status.
	wantErr(t, err, 404, "", "HeadBucket of a missing bucket")
}

func TestDeleteBucket(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("x")})
	must(t, err, "PutObject")
	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &b})
	wantErr(t, err, 409, "BucketNotEmpty", "DeleteBucket of a bucket with an object")

	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k")})
	must(t, err, "DeleteObject")
	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &b})
	must(t, err, "DeleteBucket of the emptied bucket")
	_, err = c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: &b})
	wantErr(t, err, 404, "", "HeadBucket after DeleteBucket")

	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchBucket", "DeleteBucket of a missing bucket")
}

func TestDeleteBucketWithUploadOrVersions(t *testing.T) {
	t.Parallel()
	c := newClient(t)

	// An unfinished multipart upload does not keep a bucket: S3 deletes the
	// bucket and its uploads with it.
	b := newBucket(t, c)
	mp, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	_, err = c.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part one")})
	must(t, err, "UploadPart")
	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &b})
	must(t, err, "DeleteBucket with only an upload in progress")
	_, err = c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: &b})
	wantErr(t, err, 404, "", "HeadBucket after deleting a bucket with an upload")
	_, err = c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: &b, Key: aws.String("mp"), UploadId: mp.UploadId})
	wantErr(t, err, 404, "NoSuchBucket", "ListParts of an upload of a deleted bucket")

	// So does a delete marker.
	b2 := newBucket(t, c)
	_, err = c.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: &b2, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	must(t, err, "PutBucketVersioning")
	_, err = c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: &b2, Key: aws.String("gone")})
	must(t, err, "DeleteObject (makes a delete marker)")
	_, err = c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: &b2})
	wantErr(t, err, 409, "BucketNotEmpty", "DeleteBucket with only a delete marker")
}

func TestBucketVersioningConfig(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	out, err := c.GetBucketVersioning(t.Context(), &s3.GetBucketVersioningInput{Bucket: &b})
	must(t, err, "GetBucketVersioning")
	if out.Status != "" {
		t.Errorf("new bucket versioning Status %q; want none", out.Status)
	}
	for _, st := range []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended, types.BucketVersioningStatusEnabled} {
		_, err := c.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: &b, VersioningConfiguration: &types.VersioningConfiguration{Status: st}})
		must(t, err, "PutBucketVersioning "+string(st))
		out, err := c.GetBucketVersioning(t.Context(), &s3.GetBucketVersioningInput{Bucket: &b})
		must(t, err, "GetBucketVersioning")
		if out.Status != st {
			t.Errorf("Status %q after setting %q", out.Status, st)
		}
	}
	_, err = c.GetBucketVersioning(t.Context(), &s3.GetBucketVersioningInput{Bucket: aws.String(bucketName(t))})
	wantErr(t, err, 404, "NoSuchBucket", "GetBucketVersioning of a missing bucket")
}

func TestBucketVersioningInvalid(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: &b, VersioningConfiguration: &types.VersioningConfiguration{Status: "Bogus"}})
	wantErrOneOf(t, err, 400, []string{"IllegalVersioningConfigurationException", "MalformedXML"}, "PutBucketVersioning Status=Bogus")

	// A body that is not XML at all.
	resp, body := rawRequest{method: "PUT", path: "/" + b, query: map[string][]string{"versioning": {""}}, body: []byte("not xml <<<")}.do(t)
	wantRawError(t, resp, body, 400, "MalformedXML", "PUT ?versioning with a body that is not XML")

	out, err := c.GetBucketVersioning(t.Context(), &s3.GetBucketVersioningInput{Bucket: &b})
	must(t, err, "GetBucketVersioning")
	if out.Status != "" {
		t.Errorf("versioning Status %q after refused changes; want none", out.Status)
	}
}

func TestBucketTagging(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	_, err := c.GetBucketTagging(t.Context(), &s3.GetBucketTaggingInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchTagSet", "GetBucketTagging of an untagged bucket")

	tags := []types.Tag{{Key: aws.String("team"), Value: aws.String("backup")}, {Key: aws.String("cost center"), Value: aws.String("42 / ü")}}
	_, err = c.PutBucketTagging(t.Context(), &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: tags}})
	must(t, err, "PutBucketTagging")
	out, err := c.GetBucketTagging(t.Context(), &s3.GetBucketTaggingInput{Bucket: &b})
	must(t, err, "GetBucketTagging")
	if got := tagMap(out.TagSet); len(got) != 2 || got["team"] != "backup" || got["cost center"] != "42 / ü" {
		t.Errorf("GetBucketTagging = %v; want team=backup, cost center=42 / ü", got)
	}

	// PutBucketTagging replaces the whole set.
	_, err = c.PutBucketTagging(t.Context(), &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: tags[:1]}})
	must(t, err, "PutBucketTagging (replace)")
	out, err = c.GetBucketTagging(t.Context(), &s3.GetBucketTaggingInput{Bucket: &b})
	must(t, err, "GetBucketTagging")
	if got := tagMap(out.TagSet); len(got) != 1 || got["team"] != "backup" {
		t.Errorf("GetBucketTagging after replace = %v; want team=backup only", got)
	}

	_, err = c.DeleteBucketTagging(t.Context(), &s3.DeleteBucketTaggingInput{Bucket: &b})
	must(t, err, "DeleteBucketTagging")
	_, err = c.GetBucketTagging(t.Context(), &s3.GetBucketTaggingInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchTagSet", "GetBucketTagging after DeleteBucketTagging")
}

func TestBucketTaggingInvalid(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	b := newBucket(t, c)
	long := strings.Repeat("k", 129) // tag keys are at most 128 characters
	_, err := c.PutBucketTagging(t.Context(), &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: &long, Value: aws.String("v")}}}})
	wantErr(t, err, 400, "InvalidTag", "PutBucketTagging with a 129-character key")
	dup := []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}
	_, err = c.PutBucketTagging(t.Context(), &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: dup}})
	wantErr(t, err, 400, "InvalidTag", "PutBucketTagging with a duplicate key")
	_, err = c.GetBucketTagging(t.Context(), &s3.GetBucketTaggingInput{Bucket: &b})
	wantErr(t, err, 404, "NoSuchTagSet", "GetBucketTagging after refused PutBucketTagging")
}

func tagMap(ts []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}
