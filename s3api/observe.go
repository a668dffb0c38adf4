package s3api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// RequestStats describe one finished request, for Config.Observe: the
// figures of its access-log line, with the S3 operation it was routed to.
type RequestStats struct {
	// Operation is the S3 operation's name ("PutObject", "GetObject",
	// "ListObjectsV2", ...), named by the route even when the request was
	// refused before it ran (a bad signature on a PUT is a PutObject);
	// OpAdmin for the admin API, OpUnknown when no route matches.
	Operation string
	// Status is the HTTP status answered; 499 when the client went away
	// before an answer.
	Status int
	// Duration runs from the first byte the handler saw to the last it
	// wrote.
	Duration time.Duration
	// BytesIn counts the request body as received (aws-chunked framing
	// included); BytesOut the response body as written.
	BytesIn, BytesOut int64
}

// The operation names of requests no S3 route names.
const (
	OpAdmin   = "CairnAdmin"
	OpUnknown = "Unknown"
)

// operation names a finished request. Routed requests named themselves
// (nameOperation); one refused before routing (authentication, an
// unsupported subresource) is matched against the routes now, so that
// only the refused requests pay for a second match.
func (h *handler) operation(r *http.Request, st *reqState) string {
	switch {
	case st.op != "":
		return st.op
	case st.admin:
		return OpAdmin
	case unsupportedSubresource(r.URL.Query(), st.key != "", r.Method) != "":
		return OpUnknown
	}
	var m mux.RouteMatch
	if h.router.Match(r, &m) && m.Route != nil && m.MatchErr == nil {
		if name := m.Route.GetName(); name != "" {
			return name
		}
	}
	return OpUnknown
}

// nameOperation records the matched route's name in the request state;
// mux runs it (Router.Use) only for requests a route matched.
func nameOperation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt := mux.CurrentRoute(r); rt != nil {
			state(r).op = rt.GetName()
		}
		next.ServeHTTP(w, r)
	})
}

// bearerKey marks a request's context as authenticated by the bearer
// token rather than SigV4.
type bearerKey struct{}

// BearerAuthenticated says whether the request came in on Config.BearerPath
// with the right bearer token (and so has no AccessKey).
func BearerAuthenticated(ctx context.Context) bool {
	ok, _ := ctx.Value(bearerKey{}).(bool)
	return ok
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < len("Bearer ") || !strings.EqualFold(v[:len("Bearer ")], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(v[len("Bearer "):]), true
}

// checkBearer compares the token with the configured one in constant time:
// both are hashed first, so that not even their lengths leak through timing.
func (h *handler) checkBearer(token string) error {
	if h.cfg.BearerToken == "" {
		return ErrAccessDenied.WithMessage("This server accepts no bearer token (none is configured); sign the request with SigV4 as the root user.")
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(h.cfg.BearerToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ErrAccessDenied.WithMessage("The bearer token is not valid.")
	}
	return nil
}
