package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/cairn-backup/cairn/s3api"
)

// Admin paths, served under s3api's /_cairn/ prefix after SigV4.
const (
	AdminStatsPath = "/_cairn/admin/stats"
	AdminCleanPath = "/_cairn/admin/clean"
)

// AdminHandler serves the admin API as JSON: GET AdminStatsPath answers
// Stats, POST AdminCleanPath runs the cleaner on every group and answers
// CleanResult. Only rootAccessKey may call it: s3api authenticated the
// request and names the caller in its context (s3api.AccessKey).
func (g *Gateway) AdminHandler(rootAccessKey string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AdminStatsPath, func(w http.ResponseWriter, r *http.Request) {
		st, err := g.Stats(r.Context())
		g.reply(w, r, st, err)
	})
	mux.HandleFunc("POST "+AdminCleanPath, func(w http.ResponseWriter, r *http.Request) {
		res, err := g.Clean(r.Context())
		g.reply(w, r, res, err)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, ok := s3api.AccessKey(r.Context()); !ok || rootAccessKey == "" || key != rootAccessKey {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the admin API is for the root access key only"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (g *Gateway) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		if r.Context().Err() != nil {
			return // the caller is gone
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
