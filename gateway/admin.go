package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/cairn-backup/cairn/policy"
	"github.com/cairn-backup/cairn/s3api"
)

// Admin paths, served under s3api's /_cairn/ prefix after SigV4.
const (
	AdminStatsPath = "/_cairn/admin/stats"
	AdminCleanPath = "/_cairn/admin/clean"
	// AdminLifecyclePath answers LifecycleStatus (GET); AdminLifecycleRunPath
	// runs the scanner now (POST, ?bucket= for one bucket) and answers its
	// LifecycleReport.
	AdminLifecyclePath    = "/_cairn/admin/lifecycle"
	AdminLifecycleRunPath = "/_cairn/admin/lifecycle/run"
	// AdminPolicyPath?bucket=B gets (GET), sets (PUT, a JSON document) or
	// removes (DELETE) a bucket's cloud policy.
	AdminPolicyPath = "/_cairn/admin/policy"
	// AdminTiersPath lists the tiers (GET: []TierStatus), adds one (POST, a
	// TierConfig: probed first) or removes one (DELETE ?name=).
	AdminTiersPath = "/_cairn/admin/tiers"
	// AdminTierEscrowPath?name=T (POST, the passphrase as the body) escrows
	// the master key in tier T.
	AdminTierEscrowPath = "/_cairn/admin/tiers/escrow"
	// AdminTierCleanPath?name=T (POST) runs tier T's cleaner and answers
	// its cloudtier.CleanReport.
	AdminTierCleanPath = "/_cairn/admin/tiers/clean"
	// AdminTierRotatePath?name=T (POST) moves tier T to its next key
	// generation.
	AdminTierRotatePath = "/_cairn/admin/tiers/rotate-key"
	// AdminEventsPath?after=SEQ&limit=N&wait=30s (GET) answers EventsPage:
	// the events after SEQ, oldest first; with wait, it waits up to then
	// for one when there is none yet.
	AdminEventsPath = "/_cairn/admin/events"
)

// maxPolicyJSON bounds a cloud policy document.
const maxPolicyJSON = 64 << 10

// AdminHandler serves the admin API as JSON: GET AdminStatsPath answers
// Stats, POST AdminCleanPath runs the cleaner on every group and answers
// CleanResult, GET AdminCleanPath answers the CleanStatus of a run in
// progress. Only rootAccessKey may call it: s3api authenticated the
// request and names the caller in its context (s3api.AccessKey).
func (g *Gateway) AdminHandler(rootAccessKey string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AdminStatsPath, func(w http.ResponseWriter, r *http.Request) {
		st, err := g.Stats(r.Context())
		g.reply(w, r, st, err)
	})
	mux.HandleFunc("GET "+AdminCleanPath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, g.CleanStatus(), nil)
	})
	mux.HandleFunc("POST "+AdminCleanPath, func(w http.ResponseWriter, r *http.Request) {
		res, err := g.Clean(r.Context())
		g.reply(w, r, res, err)
	})
	mux.HandleFunc("GET "+AdminLifecyclePath, func(w http.ResponseWriter, r *http.Request) {
		st, err := g.LifecycleStatus(r.Context())
		g.reply(w, r, st, err)
	})
	mux.HandleFunc("POST "+AdminLifecycleRunPath, func(w http.ResponseWriter, r *http.Request) {
		rep, err := g.RunLifecycle(r.Context(), r.URL.Query().Get("bucket"), nil)
		g.reply(w, r, rep, err)
	})
	mux.HandleFunc("GET "+AdminPolicyPath, func(w http.ResponseWriter, r *http.Request) {
		doc, err := g.GetCloudPolicy(r.Context(), r.URL.Query().Get("bucket"))
		g.reply(w, r, json.RawMessage(doc), err)
	})
	mux.HandleFunc("PUT "+AdminPolicyPath, func(w http.ResponseWriter, r *http.Request) {
		doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPolicyJSON))
		if err == nil {
			err = g.PutCloudPolicy(r.Context(), r.URL.Query().Get("bucket"), doc)
		}
		g.reply(w, r, map[string]string{"result": "cloud policy set"}, err)
	})
	mux.HandleFunc("DELETE "+AdminPolicyPath, func(w http.ResponseWriter, r *http.Request) {
		err := g.DeleteCloudPolicy(r.Context(), r.URL.Query().Get("bucket"))
		g.reply(w, r, map[string]string{"result": "cloud policy removed"}, err)
	})
	mux.HandleFunc("GET "+AdminTiersPath, func(w http.ResponseWriter, r *http.Request) {
		st, err := g.Tiers(r.Context())
		g.reply(w, r, st, err)
	})
	mux.HandleFunc("POST "+AdminTiersPath, func(w http.ResponseWriter, r *http.Request) {
		var c TierConfig
		err := decodeAdminJSON(w, r, &c, "the tier configuration")
		if err == nil {
			err = g.AddTier(r.Context(), c)
		}
		g.reply(w, r, map[string]string{"result": "tier " + c.Name + " added"}, err)
	})
	mux.HandleFunc("POST "+AdminTierEscrowPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		pass, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPassphrase+2))
		if err != nil {
			err = s3api.ErrInvalidArgument.WithMessagef("passphrase: %v", err)
		} else {
			err = g.EscrowTier(r.Context(), name, pass)
		}
		g.reply(w, r, map[string]string{"result": "master key escrowed in tier " + name}, err)
	})
	mux.HandleFunc("POST "+AdminTierCleanPath, func(w http.ResponseWriter, r *http.Request) {
		rep, err := g.CleanTier(r.Context(), r.URL.Query().Get("name"))
		g.reply(w, r, rep, err)
	})
	mux.HandleFunc("POST "+AdminTierRotatePath, func(w http.ResponseWriter, r *http.Request) {
		gen, err := g.RotateTierKey(r.Context(), r.URL.Query().Get("name"))
		g.reply(w, r, map[string]uint32{"key_gen": gen}, err)
	})
	mux.HandleFunc("GET "+AdminEventsPath, g.serveEvents)
	mux.HandleFunc("DELETE "+AdminTiersPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		g.reply(w, r, map[string]string{"result": "tier " + name + " removed"}, g.RemoveTier(r.Context(), name))
	})
	g.groupRoutes(mux)
	g.kmsRoutes(mux)
	g.replicationRoutes(mux)
	g.userRoutes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, ok := s3api.AccessKey(r.Context()); !ok || rootAccessKey == "" || key != rootAccessKey {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the admin API is for the root access key only", "code": "AccessDenied"})
			return
		}
		// A path or method the API lacks answers JSON too, not net/http's
		// plain text.
		if _, pattern := mux.Handler(r); pattern == "" {
			status, what := http.StatusNotFound, "no admin endpoint is at "+r.URL.Path
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				probe := r.Clone(r.Context())
				probe.Method = m
				if _, p := mux.Handler(probe); p != "" && m != r.Method {
					status, what = http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path
					break
				}
			}
			writeJSON(w, status, map[string]string{"error": what + " (cairn admin lists what the admin API does)", "code": http.StatusText(status)})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// reply answers v, or err: what the caller got wrong (an S3 error, a
// policy error, a body too large) with its status and message, anything
// else as a 500 that is logged.
func (g *Gateway) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		if r.Context().Err() != nil {
			return // the caller is gone
		}
		var s3err *s3api.Error
		var perr *policy.Error
		var mb *http.MaxBytesError
		var ae *AdminError
		switch {
		case errors.As(err, &ae):
			writeJSON(w, ae.Status, map[string]string{"error": ae.Message, "code": ae.Code})
			return
		case errors.As(err, &s3err):
			writeJSON(w, s3err.Status, map[string]string{"error": s3err.Message, "code": s3err.Code})
			return
		case errors.As(err, &perr):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": perr.Message, "code": perr.Code})
			return
		case errors.As(err, &mb):
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "the document is larger than 64 KiB"})
			return
		}
		g.log.Error("admin request", "path", r.URL.Path, "req_id", s3api.RequestID(r.Context()), "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
