package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// RestoreObject (POST /bucket/key?restore) brings a tiered version's data
// back to local storage for a number of days, as S3 restores an archived
// object: 202 Accepted when a restore starts, 200 OK when the version is
// restored already (its expiry moves to Days from now), 409
// RestoreAlreadyInProgress while one runs, 403 InvalidObjectState for a
// version that is not in a tier. HEAD and GET then show x-amz-restore.
// Cairn reads tiered data through without a restore; a restore makes its
// reads local.

// restoreRequest is the RestoreRequest document, as much of it as Cairn
// takes: Days, and a GlacierJobParameters tier, which means nothing here
// and is only checked.
type restoreRequest struct {
	XMLName              xml.Name `xml:"RestoreRequest"`
	Days                 *string  `xml:"Days"`
	Type                 string   `xml:"Type"`
	GlacierJobParameters *struct {
		Tier string `xml:"Tier"`
	} `xml:"GlacierJobParameters"`
	Tier string `xml:"Tier"`
}

// maxRestoreDays bounds Days; AWS documents no maximum, and a restore of
// more than ten years is a mistake.
const maxRestoreDays = 3650

func parseRestore(data []byte) (int, error) {
	var req restoreRequest
	if err := decodeXML(data, &req); err != nil {
		return 0, err
	}
	if req.Type != "" {
		return 0, ErrNotImplemented.WithMessage("Restore of type SELECT is not supported.")
	}
	for _, t := range []string{req.Tier, jobTier(req)} {
		switch t {
		case "", "Standard", "Bulk", "Expedited":
		default:
			return 0, ErrMalformedXML.WithMessagef("The restore tier %q is not Standard, Bulk or Expedited.", t)
		}
	}
	if req.Days == nil {
		return 0, ErrMalformedXML.WithMessage("The RestoreRequest must give Days: how long the restored copy is kept.")
	}
	days, err := strconv.Atoi(strings.TrimSpace(*req.Days))
	if err != nil || days < 1 || days > maxRestoreDays {
		return 0, ErrInvalidArgument.WithMessagef("Days %q: give a whole number of days from 1 to %d.", *req.Days, maxRestoreDays)
	}
	return days, nil
}

func jobTier(req restoreRequest) string {
	if req.GlacierJobParameters == nil {
		return ""
	}
	return req.GlacierJobParameters.Tier
}

func (h *handler) restoreObject(w http.ResponseWriter, r *http.Request) {
	st := state(r)
	if err := checkKey(st.key); err != nil {
		h.writeError(w, r, err)
		return
	}
	data, err := h.readSmallBody(r, maxConfigXML, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	days, err := parseRestore(data)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	started, err := h.b.RestoreObject(r.Context(), st.bucket, st.key, r.URL.Query().Get("versionId"), days)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if started {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.WriteHeader(http.StatusOK)
}
