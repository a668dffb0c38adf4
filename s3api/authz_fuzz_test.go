package s3api

import (
	"errors"
	"net/http"
	"testing"
)

// isS3Error says the parsers answered an S3 error, never anything else.
func isS3Error(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func FuzzPublicAccessBlock(f *testing.F) {
	f.Add([]byte(`<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`))
	f.Add([]byte(`<PublicAccessBlockConfiguration/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := parsePublicAccessBlock(data); err != nil && !isS3Error(err) {
			t.Fatalf("%T %v", err, err)
		}
	})
}

func FuzzOwnershipControls(f *testing.F) {
	f.Add([]byte(`<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>`))
	f.Add([]byte(`<OwnershipControls><Rule/><Rule/></OwnershipControls>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := parseOwnershipControls(data)
		if err != nil && !isS3Error(err) {
			t.Fatalf("%T %v", err, err)
		}
		if err == nil && o != "BucketOwnerEnforced" && o != "BucketOwnerPreferred" && o != "ObjectWriter" {
			t.Fatalf("accepted %q", o)
		}
	})
}

func FuzzGrantHeaders(f *testing.F) {
	f.Add("private", "")
	f.Add("", `id="abc", uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
	f.Add("", `emailAddress="a@b"`)
	f.Fuzz(func(t *testing.T, canned, grant string) {
		h := http.Header{}
		if canned != "" {
			h.Set("x-amz-acl", canned)
		}
		if grant != "" {
			h.Set("x-amz-grant-read", grant)
		}
		acl, err := headerACL(h)
		if err != nil && !isS3Error(err) {
			t.Fatalf("%T %v", err, err)
		}
		if err == nil && acl != nil {
			for _, g := range acl.Grants {
				if g.ID == "" && g.URI != AllUsersGroup && g.URI != AuthenticatedUsersGroup {
					t.Fatalf("a grant to no one: %+v", g)
				}
			}
		}
	})
}

func FuzzACLBody(f *testing.F) {
	f.Add([]byte(`<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>o</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := bodyACL(data)
		if err != nil && !isS3Error(err) {
			t.Fatalf("%T %v", err, err)
		}
		if err == nil {
			for _, g := range req.Grants {
				if !validPermission(g.Permission) {
					t.Fatalf("accepted permission %q", g.Permission)
				}
			}
		}
	})
}
