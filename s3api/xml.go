package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"
)

// iso8601 is the timestamp format of S3's XML documents.
const iso8601 = "2006-01-02T15:04:05.000Z"

// Request body limits. S3 documents none for most configuration documents;
// these are well above what a valid document needs and bound what a client
// can make us hold.
const (
	maxConfigXML   = 1 << 20 // tagging, versioning, ACL, CreateBucketConfiguration
	maxDeleteXML   = 2 << 20 // 1000 keys of up to 1024 bytes each, escaped
	maxCompleteXML = 8 << 20 // 10,000 parts with ETags and SHA-256 checksums
)

func xmlName(local string) xml.Name { return xml.Name{Local: local} }

// xmlTime renders a time as S3 does in XML, always UTC with milliseconds.
type xmlTime time.Time

func (t xmlTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format(iso8601)), nil
}

// etag renders an ETag with the quotes S3 puts around it, in headers and XML.
func etag(s string) string { return `"` + s + `"` }

// owner is S3's Owner and Initiator element.
type owner struct {
	ID          string
	DisplayName string `xml:",omitempty"`
}

// commonPrefix is one CommonPrefixes element.
type commonPrefix struct {
	Prefix string
}

// checksumFields are the Checksum* elements of objects, parts and results;
// at most one is set.
type checksumFields struct {
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
}

func newChecksumFields(c Checksum) checksumFields {
	var f checksumFields
	switch c.Algorithm {
	case "CRC32":
		f.ChecksumCRC32 = c.Value
	case "CRC32C":
		f.ChecksumCRC32C = c.Value
	case "CRC64NVME":
		f.ChecksumCRC64NVME = c.Value
	case "SHA1":
		f.ChecksumSHA1 = c.Value
	case "SHA256":
		f.ChecksumSHA256 = c.Value
	}
	return f
}

// checksum returns the one checksum the fields hold; an error when more
// than one is set.
func (f checksumFields) checksum() (Checksum, error) {
	var c Checksum
	for _, v := range [...]struct{ alg, val string }{
		{"CRC32", f.ChecksumCRC32}, {"CRC32C", f.ChecksumCRC32C}, {"CRC64NVME", f.ChecksumCRC64NVME},
		{"SHA1", f.ChecksumSHA1}, {"SHA256", f.ChecksumSHA256},
	} {
		if v.val == "" {
			continue
		}
		if c.Algorithm != "" {
			return Checksum{}, errors.New("more than one checksum")
		}
		c = Checksum{Algorithm: v.alg, Value: v.val}
	}
	return c, nil
}

// readXML reads a request body of at most limit bytes and decodes it into v.
// An empty body is MalformedXML (or MissingRequestBodyError where S3 says
// so, which the caller checks first); a longer one MaxMessageLengthExceeded.
func readXML(body io.Reader, limit int64, v any) error {
	data, err := readAll(body, limit)
	if err != nil {
		return err
	}
	return decodeXML(data, v)
}

// readAll reads at most limit bytes of a small request body.
func readAll(body io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrMaxMessageLengthExceeded
	}
	return data, nil
}

// decodeXML decodes one document. Request documents are matched by local
// names only: clients send them with or without the S3 namespace.
func decodeXML(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return ErrMalformedXML.WithMessage("The XML you provided was empty.")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w (%v)", ErrMalformedXML, err)
	}
	// Anything but whitespace, comments and processing instructions after
	// the root element is not a well-formed document.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w (%v)", ErrMalformedXML, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return ErrMalformedXML
			}
		case xml.Comment, xml.ProcInst:
		default:
			return ErrMalformedXML
		}
	}
}
