package policy

import "fmt"

// S3 error codes a validation Error carries.
const (
	CodeMalformedXML        = "MalformedXML"
	CodeInvalidArgument     = "InvalidArgument"
	CodeInvalidRequest      = "InvalidRequest"
	CodeInvalidStorageClass = "InvalidStorageClass"
)

// msgMalformedXML is AWS's text for MalformedXML. Cairn adds what it found
// after a colon, so a client learns which element to fix.
const msgMalformedXML = "The XML you provided was not well-formed or did not validate against our published schema"

// Error is a validation error with the S3 error code a client should get
// (MalformedXML, InvalidArgument, InvalidRequest, InvalidStorageClass) and
// AWS's message for it. Where AWS's message does not say what is wrong
// (MalformedXML, InvalidStorageClass), Cairn appends it after a colon.
// Cloud policy errors use InvalidArgument with a message in plain words.
//
// policy writes the messages because they are AWS's wire text, checked
// against AWS; s3api turns the Error into a response (HTTP 400).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func malformed(format string, args ...any) *Error {
	return &Error{Code: CodeMalformedXML, Message: msgMalformedXML + ": " + fmt.Sprintf(format, args...)}
}

func invalidArg(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

func invalidReq(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// awsStorageClasses are AWS's storage class names. None is a Cairn tier
// unless an operator named one so.
var awsStorageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true,
	"ONEZONE_IA": true, "INTELLIGENT_TIERING": true, "GLACIER": true,
	"GLACIER_IR": true, "DEEP_ARCHIVE": true, "OUTPOSTS": true,
	"EXPRESS_ONEZONE": true, "SNOW": true,
}

// badTier is InvalidStorageClass for a transition to something that is not
// a configured tier.
func badTier(name string) *Error {
	const msg = "The storage class you specified is not valid"
	var why string
	switch {
	case name == "":
		why = "a transition needs the name of a Cairn tier"
	case awsStorageClasses[name]:
		why = fmt.Sprintf("%s is an AWS storage class, not a Cairn tier; Cairn tiers are named by `cairn admin tier add`", name)
	default:
		why = fmt.Sprintf("no tier is named %q; Cairn tiers are named by `cairn admin tier add`", name)
	}
	return &Error{Code: CodeInvalidStorageClass, Message: msg + ": " + why}
}
