package policy

import (
	"reflect"
	"testing"
)

// FuzzParseLifecycle: whatever parses, marshals, and re-parses equal.
func FuzzParseLifecycle(f *testing.F) {
	for _, s := range [][]byte{
		doc(`<ID>a</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration>`),
		doc(`<Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition><Transition><Days>9</Days><StorageClass>deep</StorageClass></Transition><Expiration><Days>10</Days></Expiration>`),
		doc(`<ID>b</ID><Prefix>x</Prefix><Status>Disabled</Status><Expiration><Date>2027-01-01T00:00:00.000Z</Date></Expiration>`),
		doc(`<ID>c</ID><Filter><Tag><Key>k</Key></Tag></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>azure</StorageClass></NoncurrentVersionTransition>`),
		doc(`<ID>d</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>false</ExpiredObjectDeleteMarker></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`),
		doc(`<ID>&#xD;&lt;&amp;</ID><Filter><Prefix>&#9;a&#xA;</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>`),
		[]byte(`<LifecycleConfiguration><Rule><Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule></LifecycleConfiguration>`),
		[]byte(`<LifecycleConfiguration><Rule>`),
		// Found by the fuzzer: text after a child element (a copied strings.Builder).
		[]byte(`<A xmlns="">000<ID></ID>000`),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := ParseLifecycle(body, tiers)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := ParseLifecycle(out, tiers)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round trip differs:\n got %#v\nwant %#v\n%s", back, l, out)
		}
	})
}

// FuzzParseCloudPolicy: whatever parses, marshals, and re-parses equal.
func FuzzParseCloudPolicy(f *testing.F) {
	for _, s := range []string{
		`{"idle":"72h","include_ext":[".vbk"],"tier":"azure","mode":"copy"}`,
		`{"idle":"1d12h","exclude_ext":[".TMP"],"include_dirs":["a/"],"tier":"cold","mode":"move"}`,
		`{"exclude_dirs":["tmp/"],"tier":"azure","mode":"copy-then-move","after":"30d"}`,
		`{"idle":"0","tier":"azure","mode":"copy","after":"1h"}`,
		`{"idle":"1.5h","tier":"azure","mode":"copy"}`,
		`{"tier":`,
		// Found by the fuzzer: an empty list came back absent.
		`{"exclude_ext":[],"tier":"cold","mode":"move"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseCloudPolicy(body, tiers)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		back, err := ParseCloudPolicy(out, tiers)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip differs:\n got %#v\nwant %#v\n%s", back, p, out)
		}
	})
}
