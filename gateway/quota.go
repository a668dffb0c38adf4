package gateway

import (
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/gateway/events"
	"github.com/cairn-backup/cairn/s3api"
)

// Quotas: a storage group's quota bounds its physical bytes (chunkstore's
// quota.go says what is counted). Writes that add data (PutObject,
// UploadPart, CopyObject, UploadPartCopy, CompleteMultipartUpload) are
// refused before they read a byte once the group is at its quota (less than
// one write batch, 8 MiB by default, of it left), and a write that would
// cross it on the way fails whole in the chunk store. Reads,
// HEAD, LIST and DELETE never look at the quota. A refusal nudges the
// group's cleaner, so that space freed by deletes comes back without an
// admin: the next write after that clean goes through.
//
// The answer is 507 QuotaExceeded: a 4xx would be the client's fault (403
// in particular reads as a permission problem in backup tools), 503 would
// be retried as if it would pass; 507, HTTP's status for a server out of
// space, is reported as such, and aws-sdk-go-v2 does not count it among the
// transient errors it retries (500, 502, 503, 504).

// admitWrite refuses a write into gr once the group is at its quota (less
// than one write batch of it left: chunkstore's AtQuota).
func (g *Gateway) admitWrite(gr *group) error {
	return g.quotaReached(gr, gr.store.AtQuota())
}

// quotaReached turns a chunk store's refusal into the S3 error that names
// the group, its quota and its use; other errors pass unchanged.
func (g *Gateway) quotaReached(gr *group, err error) error {
	var qe *chunkstore.QuotaError
	if errors.As(err, &qe) {
		return g.quotaError(gr, qe)
	}
	return err
}

func (g *Gateway) quotaError(gr *group, qe *chunkstore.QuotaError) error {
	gr.clean.nudge()
	msg := fmt.Sprintf("Storage group %q is at its quota: %s used of %s. Delete data and let the cleaner run (cairn admin clean), or raise the quota (cairn admin group set %s --quota SIZE).",
		gr.name, iec(qe.Used), iec(qe.Quota), gr.name)
	// An event (logged at WARN too), once per its repeat window however
	// many writes are refused: the access log has each of them.
	g.event(events.QuotaReached, gr.name, msg)
	return s3api.ErrQuotaExceeded.WithMessage(msg)
}
