package policy

import (
	"strings"
	"testing"
)

const (
	okStatus = `<Status>Enabled</Status>`
	okExp    = `<Expiration><Days>30</Days></Expiration>`
)

func TestParseLifecycleErrors(t *testing.T) {
	many := make([]string, MaxRules+1)
	for i := range many {
		many[i] = `<Filter/>` + okStatus + okExp
	}
	tests := []struct {
		name string
		body []byte
		code string
		want []string // substrings of the message
	}{
		// Structure: MalformedXML.
		{"not xml", []byte(`<LifecycleConfiguration><Rule>`), CodeMalformedXML, []string{msgMalformedXML}},
		{"empty body", nil, CodeMalformedXML, []string{"empty"}},
		{"wrong root", []byte(`<Lifecycle></Lifecycle>`), CodeMalformedXML, []string{"<LifecycleConfiguration>"}},
		{"wrong namespace", []byte(`<LifecycleConfiguration xmlns="urn:x"><Rule/></LifecycleConfiguration>`), CodeMalformedXML, []string{"namespace"}},
		{"two roots", []byte(`<LifecycleConfiguration></LifecycleConfiguration><LifecycleConfiguration></LifecycleConfiguration>`), CodeMalformedXML, []string{"root"}},
		{"doctype", []byte(`<!DOCTYPE x><LifecycleConfiguration/>`), CodeMalformedXML, []string{"directive"}},
		{"no rules", doc(), CodeMalformedXML, []string{"at least one <Rule>"}},
		{"too many rules", doc(many...), CodeMalformedXML, []string{"at most 1000 rules"}},
		{"unknown element in rule", doc(`<ID>a</ID><Filter/>` + okStatus + okExp + `<Bogus/>`), CodeMalformedXML, []string{"unknown element <Bogus> in <Rule>"}},
		{"unknown element in filter", doc(`<Filter><Suffix>x</Suffix></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"<Suffix>"}},
		{"repeated element", doc(`<Filter/>` + okStatus + `<Expiration><Days>1</Days><Days>2</Days></Expiration>`), CodeMalformedXML, []string{"<Days> appears more than once"}},
		{"text where elements belong", doc(`<Filter>logs/</Filter>` + okStatus + okExp), CodeMalformedXML, []string{"holds text"}},
		{"elements where text belongs", doc(`<ID><X/></ID><Filter/>` + okStatus + okExp), CodeMalformedXML, []string{"<ID> holds elements"}},
		{"missing status", doc(`<Filter/>` + okExp), CodeMalformedXML, []string{"<Status>"}},
		{"bad status", doc(`<Filter/><Status>On</Status>` + okExp), CodeMalformedXML, []string{"Enabled or Disabled", `"On"`}},
		{"lowercase status", doc(`<Filter/><Status>enabled</Status>` + okExp), CodeMalformedXML, []string{"Enabled or Disabled"}},
		{"filter and prefix", doc(`<Prefix>a</Prefix><Filter/>` + okStatus + okExp), CodeMalformedXML, []string{"not both"}},
		{"neither filter nor prefix", doc(okStatus + okExp), CodeMalformedXML, []string{"needs a <Filter>"}},
		{"filter with two predicates", doc(`<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"combine several in <And>"}},
		{"filter prefix and size", doc(`<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"<And>"}},
		{"and with one predicate", doc(`<Filter><And><Prefix>a</Prefix></And></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"two or more predicates"}},
		{"and empty", doc(`<Filter><And></And></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"two or more predicates"}},
		{"tag without key", doc(`<Filter><Tag><Value>v</Value></Tag></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"<Tag> needs a <Key>"}},
		{"size not a number", doc(`<Filter><ObjectSizeGreaterThan>big</ObjectSizeGreaterThan></Filter>` + okStatus + okExp), CodeMalformedXML, []string{"must be an integer", `"big"`}},
		{"empty expiration", doc(`<Filter/>` + okStatus + `<Expiration></Expiration>`), CodeMalformedXML, []string{"<Expiration> needs"}},
		{"expiration days and date", doc(`<Filter/>` + okStatus + `<Expiration><Days>1</Days><Date>2027-01-01</Date></Expiration>`), CodeMalformedXML, []string{"not both"}},
		{"days not a number", doc(`<Filter/>` + okStatus + `<Expiration><Days>1.5</Days></Expiration>`), CodeMalformedXML, []string{"must be an integer"}},
		{"days out of range", doc(`<Filter/>` + okStatus + `<Expiration><Days>99999999999</Days></Expiration>`), CodeMalformedXML, []string{"out of range"}},
		{"date not a date", doc(`<Filter/>` + okStatus + `<Expiration><Date>tomorrow</Date></Expiration>`), CodeMalformedXML, []string{"ISO 8601"}},
		{"delete marker not a bool", doc(`<Filter/>` + okStatus + `<Expiration><ExpiredObjectDeleteMarker>yes</ExpiredObjectDeleteMarker></Expiration>`), CodeMalformedXML, []string{"true or false"}},
		{"transition days and date", doc(`<Filter/>` + okStatus + `<Transition><Days>1</Days><Date>2027-01-01</Date><StorageClass>cold</StorageClass></Transition>`), CodeMalformedXML, []string{"not both"}},
		{"transition without class", doc(`<Filter/>` + okStatus + `<Transition><Days>1</Days></Transition>`), CodeMalformedXML, []string{"<StorageClass>"}},
		{"noncurrent transition without days", doc(`<Filter/>` + okStatus + `<NoncurrentVersionTransition><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`), CodeMalformedXML, []string{"<NoncurrentDays>"}},
		{"noncurrent transition without class", doc(`<Filter/>` + okStatus + `<NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionTransition>`), CodeMalformedXML, []string{"<StorageClass>"}},
		{"noncurrent expiration without days", doc(`<Filter/>` + okStatus + `<NoncurrentVersionExpiration></NoncurrentVersionExpiration>`), CodeMalformedXML, []string{"<NoncurrentDays>"}},
		{"abort without days", doc(`<Filter/>` + okStatus + `<AbortIncompleteMultipartUpload></AbortIncompleteMultipartUpload>`), CodeMalformedXML, []string{"<DaysAfterInitiation>"}},

		// Values: InvalidArgument / InvalidRequest, AWS's messages.
		{"no action", doc(`<ID>a</ID><Filter/>` + okStatus), CodeInvalidRequest, []string{msgNoAction}},
		{"duplicate IDs", doc(`<ID>a</ID><Filter/>`+okStatus+okExp, `<ID>a</ID><Filter/>`+okStatus+okExp), CodeInvalidArgument, []string{msgDuplicateID}},
		{"ID too long", doc(`<ID>` + strings.Repeat("x", 256) + `</ID><Filter/>` + okStatus + okExp), CodeInvalidArgument, []string{msgIDLength}},
		{"expiration days zero", doc(`<Filter/>` + okStatus + `<Expiration><Days>0</Days></Expiration>`), CodeInvalidArgument, []string{msgExpirationDays}},
		{"expiration days negative", doc(`<Filter/>` + okStatus + `<Expiration><Days>-1</Days></Expiration>`), CodeInvalidArgument, []string{"'Days' for Expiration action must be a positive integer"}},
		{"expiration date not midnight", doc(`<Filter/>` + okStatus + `<Expiration><Date>2027-01-01T10:00:00Z</Date></Expiration>`), CodeInvalidArgument, []string{"'Date' must be at midnight GMT"}},
		{"transition date not midnight", doc(`<Filter/>` + okStatus + `<Transition><Date>2027-01-01T00:00:01Z</Date><StorageClass>cold</StorageClass></Transition>`), CodeInvalidArgument, []string{msgMidnight}},
		{"delete marker with days", doc(`<Filter/>` + okStatus + `<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), CodeInvalidRequest, []string{msgDeleteMarkerWithDays}},
		{"delete marker with date", doc(`<Filter/>` + okStatus + `<Expiration><Date>2027-01-01</Date><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), CodeInvalidRequest, []string{"'Days' or 'Date'"}},
		{"delete marker with tag filter", doc(`<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>` + okStatus + `<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), CodeInvalidRequest, []string{msgDeleteMarkerWithTags}},
		{"delete marker with and tags", doc(`<Filter><And><Prefix>p</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>` + okStatus + `<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), CodeInvalidRequest, []string{"tags"}},
		{"noncurrent days zero", doc(`<Filter/>` + okStatus + `<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>`), CodeInvalidArgument, []string{msgNoncurrentDaysExpiration}},
		{"newer noncurrent zero", doc(`<Filter/>` + okStatus + `<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>0</NewerNoncurrentVersions></NoncurrentVersionExpiration>`), CodeInvalidArgument, []string{"'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer"}},
		{"newer noncurrent 101", doc(`<Filter/>` + okStatus + `<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>`), CodeInvalidArgument, []string{"between 1 and 100"}},
		{"newer noncurrent transition 101", doc(`<Filter/>` + okStatus + `<NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`), CodeInvalidArgument, []string{"NoncurrentVersionTransition action must be an integer between 1 and 100"}},
		{"noncurrent transition days negative", doc(`<Filter/>` + okStatus + `<NoncurrentVersionTransition><NoncurrentDays>-1</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`), CodeInvalidArgument, []string{msgNoncurrentDaysTransition}},
		{"transition days negative", doc(`<Filter/>` + okStatus + `<Transition><Days>-1</Days><StorageClass>cold</StorageClass></Transition>`), CodeInvalidArgument, []string{msgTransitionDays}},
		{"transition without days or date", doc(`<Filter/>` + okStatus + `<Transition><StorageClass>cold</StorageClass></Transition>`), CodeInvalidArgument, []string{"either 'Days' or 'Date'"}},
		{"abort days zero", doc(`<Filter/>` + okStatus + `<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), CodeInvalidArgument, []string{msgAbortDays}},
		{"abort with tags", doc(`<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>` + okStatus + `<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), CodeInvalidRequest, []string{msgAbortWithTags}},
		{"abort with size", doc(`<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>` + okStatus + `<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), CodeInvalidRequest, []string{msgAbortWithSize}},
		{"size range inverted", doc(`<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>` + okStatus + okExp), CodeInvalidArgument, []string{msgSizeRange}},
		{"size greater negative", doc(`<Filter><ObjectSizeGreaterThan>-1</ObjectSizeGreaterThan></Filter>` + okStatus + okExp), CodeInvalidArgument, []string{msgSizeGreaterThan}},
		{"size less zero", doc(`<Filter><ObjectSizeLessThan>0</ObjectSizeLessThan></Filter>` + okStatus + okExp), CodeInvalidArgument, []string{msgSizeLessThan}},
		{"duplicate tag keys", doc(`<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>` + okStatus + okExp), CodeInvalidRequest, []string{msgDuplicateTagKey}},
		{"empty tag key", doc(`<Filter><Tag><Key></Key><Value>v</Value></Tag></Filter>` + okStatus + okExp), CodeInvalidArgument, []string{msgTagKey}},
		{"tag value too long", doc(`<Filter><Tag><Key>k</Key><Value>` + strings.Repeat("v", 257) + `</Value></Tag></Filter>` + okStatus + okExp), CodeInvalidArgument, []string{msgTagValue}},
		{"prefix too long", doc(`<Filter><Prefix>` + strings.Repeat("p", 1025) + `</Prefix></Filter>` + okStatus + okExp), CodeInvalidRequest, []string{msgPrefixLength}},

		// Transitions.
		{"transition to unknown tier", doc(`<Filter/>` + okStatus + `<Transition><Days>1</Days><StorageClass>nope</StorageClass></Transition>`), CodeInvalidStorageClass, []string{"The storage class you specified is not valid", `"nope"`, "cairn admin tier add"}},
		{"transition to GLACIER", doc(`<Filter/>` + okStatus + `<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>`), CodeInvalidStorageClass, []string{"GLACIER is an AWS storage class", "cairn admin tier add"}},
		{"transition to STANDARD_IA", doc(`<Filter/>` + okStatus + `<Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>`), CodeInvalidStorageClass, []string{"STANDARD_IA is an AWS storage class"}},
		{"noncurrent transition to unknown tier", doc(`<Filter/>` + okStatus + `<NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>DEEP_ARCHIVE</StorageClass></NoncurrentVersionTransition>`), CodeInvalidStorageClass, []string{"DEEP_ARCHIVE"}},
		{"same tier twice", doc(`<Filter><Prefix>test/</Prefix></Filter>` + okStatus + `<Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition><Transition><Days>9</Days><StorageClass>cold</StorageClass></Transition>`), CodeInvalidRequest, []string{"'StorageClass' must be different for 'Transition' actions in same 'Rule' with filter '(prefix=test/)'"}},
		{"same tier twice noncurrent", doc(`<Filter><Tag><Key>archive</Key><Value>true</Value></Tag></Filter>` + okStatus + `<NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition><NoncurrentVersionTransition><NoncurrentDays>2</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`), CodeInvalidRequest, []string{"'NoncurrentVersionTransition' actions in same 'Rule' with filter '(tag={key=archive, value=true})'"}},
		{"mixed days and dates", doc(`<Filter/>` + okStatus + `<Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition><Transition><Date>2027-01-01</Date><StorageClass>deep</StorageClass></Transition>`), CodeInvalidRequest, []string{"Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule for filter '(prefix=)'"}},
		{"later transition not later", doc(`<Filter><And><Prefix>test/</Prefix><ObjectSizeLessThan>120120</ObjectSizeLessThan></And></Filter>` + okStatus + `<Transition><Days>5</Days><StorageClass>cold</StorageClass></Transition><Transition><Days>5</Days><StorageClass>deep</StorageClass></Transition>`), CodeInvalidArgument,
			[]string{"'Days' in the Transition action for StorageClass 'deep' for filter '(prefix=test/ and objectsizelessthan=120120)' must be greater than 'Days' in the Transition action for StorageClass 'cold'"}},
		{"later transition date not later", doc(`<Filter/>` + okStatus + `<Transition><Date>2027-02-01</Date><StorageClass>cold</StorageClass></Transition><Transition><Date>2027-01-01</Date><StorageClass>deep</StorageClass></Transition>`), CodeInvalidArgument, []string{"'Date' in the Transition action for StorageClass 'deep'"}},
		{"later noncurrent transition not later", doc(`<Filter/>` + okStatus + `<NoncurrentVersionTransition><NoncurrentDays>3</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition><NoncurrentVersionTransition><NoncurrentDays>2</NoncurrentDays><StorageClass>deep</StorageClass></NoncurrentVersionTransition>`), CodeInvalidArgument, []string{"'NoncurrentDays' in the NoncurrentVersionTransition action for StorageClass 'deep'"}},
		{"expiration not after transition", doc(`<Filter><Prefix>test/</Prefix></Filter>` + okStatus + `<Expiration><Days>180</Days></Expiration><Transition><Days>180</Days><StorageClass>cold</StorageClass></Transition>`), CodeInvalidArgument, []string{"'Days' in the Expiration action for filter '(prefix=test/)' must be greater than 'Days' in the Transition action"}},
		{"expiration date not after transition date", doc(`<Filter/>` + okStatus + `<Expiration><Date>2027-01-01</Date></Expiration><Transition><Date>2027-01-01</Date><StorageClass>cold</StorageClass></Transition>`), CodeInvalidArgument, []string{"'Date' in the Expiration action for filter '(prefix=)' must be greater than 'Date' in the Transition action"}},
		{"expiration date with transition days", doc(`<Filter/>` + okStatus + `<Expiration><Date>2027-01-01</Date></Expiration><Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition>`), CodeInvalidRequest, []string{"Found mixed 'Date' and 'Days' based Expiration and Transition actions"}},
		{"noncurrent expiration not after transition", doc(`<Filter><ObjectSizeGreaterThan>1048576</ObjectSizeGreaterThan></Filter>` + okStatus + `<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`), CodeInvalidArgument,
			[]string{"'NoncurrentDays' in the NoncurrentVersionExpiration action for filter '(objectsizegreaterthan=1048576)' must be greater than 'NoncurrentDays' in the NoncurrentVersionTransition action"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseLifecycle(tc.body, tiers)
			if err == nil {
				t.Fatalf("parsed: %+v", l)
			}
			wantErr(t, err, tc.code, tc.want...)
		})
	}
}

func TestParseLifecycleAccepts(t *testing.T) {
	tests := []struct{ name, rule string }{
		{"transition days 0, no 30-day minimum", `<Filter/>` + okStatus + `<Transition><Days>0</Days><StorageClass>cold</StorageClass></Transition>`},
		{"delete marker with transition", `<Filter/>` + okStatus + `<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration><Transition><Days>12</Days><StorageClass>cold</StorageClass></Transition>`},
		{"same tier for current and noncurrent", `<Filter/>` + okStatus + `<Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>cold</StorageClass></NoncurrentVersionTransition>`},
		{"delete marker with size filter", `<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>` + okStatus + `<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`},
		{"abort with prefix", `<Filter><Prefix>up/</Prefix></Filter>` + okStatus + `<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`},
		{"ID of 255", `<ID>` + strings.Repeat("é", 255) + `</ID><Filter/>` + okStatus + okExp},
		{"and of prefix and size", `<Filter><And><Prefix>p</Prefix><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></And></Filter>` + okStatus + okExp},
		{"and of two tags", `<Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></And></Filter>` + okStatus + okExp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roundTrip(t, mustParse(t, doc(tc.rule)))
		})
	}
}

func TestParseLifecycleNoTiers(t *testing.T) {
	_, err := ParseLifecycle(doc(`<Filter/>`+okStatus+`<Transition><Days>1</Days><StorageClass>cold</StorageClass></Transition>`), nil)
	wantErr(t, err, CodeInvalidStorageClass, `"cold"`)
}

func TestValidateInCode(t *testing.T) {
	tests := []struct {
		name string
		l    *Lifecycle
		code string
		want string
	}{
		{"nil", nil, CodeMalformedXML, "at least one"},
		{"empty ID", &Lifecycle{Rules: []Rule{{Expiration: &Expiration{Days: 1}}}}, CodeInvalidArgument, "ID must not be empty"},
		{"abort negative", &Lifecycle{Rules: []Rule{{ID: "a", AbortIncompleteMultipartUploadDays: -1}}}, CodeInvalidArgument, msgAbortDays},
		{"days and date", &Lifecycle{Rules: []Rule{{ID: "a", Expiration: &Expiration{Days: 1, Date: day("2027-01-01T00:00:00Z")}}}}, CodeMalformedXML, "not both"},
		{"newer negative", &Lifecycle{Rules: []Rule{{ID: "a", NoncurrentExpiration: &NoncurrentExpiration{NoncurrentDays: 1, NewerNoncurrentVersions: -1}}}}, CodeInvalidArgument, "positive integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.l.Validate(tiers), tc.code, tc.want)
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeInvalidArgument, Message: "m"}
	if e.Error() != "InvalidArgument: m" {
		t.Fatal(e.Error())
	}
}
