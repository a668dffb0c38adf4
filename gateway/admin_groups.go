package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cairn-backup/cairn/s3api"
)

// Admin paths of storage groups and the cleaner's schedule.
const (
	// AdminGroupsPath lists the groups (GET: []GroupInfo), adds one (POST,
	// a GroupSpec), changes one (PATCH ?name=, a GroupChange) or removes
	// one (DELETE ?name=).
	AdminGroupsPath = "/_cairn/admin/groups"
	// AdminCleanSchedulePath answers the CleanSchedule (GET);
	// AdminCleanPausePath pauses (POST) and AdminCleanResumePath resumes
	// (POST) the cleaner's own runs.
	AdminCleanSchedulePath = "/_cairn/admin/clean/schedule"
	AdminCleanPausePath    = "/_cairn/admin/clean/pause"
	AdminCleanResumePath   = "/_cairn/admin/clean/resume"
)

func (g *Gateway) groupRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AdminGroupsPath, func(w http.ResponseWriter, r *http.Request) {
		gs, err := g.Groups(r.Context())
		g.reply(w, r, gs, err)
	})
	mux.HandleFunc("POST "+AdminGroupsPath, func(w http.ResponseWriter, r *http.Request) {
		var spec GroupSpec
		err := decodeAdminJSON(w, r, &spec, "the storage group")
		var gi GroupInfo
		if err == nil {
			gi, err = g.AddGroup(r.Context(), spec)
		}
		g.reply(w, r, gi, err)
	})
	mux.HandleFunc("PATCH "+AdminGroupsPath, func(w http.ResponseWriter, r *http.Request) {
		var ch GroupChange
		err := decodeAdminJSON(w, r, &ch, "the storage group change")
		var gi GroupInfo
		if err == nil {
			gi, err = g.SetGroup(r.Context(), r.URL.Query().Get("name"), ch)
		}
		g.reply(w, r, gi, err)
	})
	mux.HandleFunc("DELETE "+AdminGroupsPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		g.reply(w, r, map[string]string{"result": "storage group " + name + " removed; its directory is left as it is"}, g.RemoveGroup(r.Context(), name))
	})
	mux.HandleFunc("GET "+AdminCleanSchedulePath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, g.CleanSchedule(), nil)
	})
	mux.HandleFunc("POST "+AdminCleanPausePath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, map[string]string{"result": "the cleaner's own runs are paused (cairn admin clean still runs it)"}, g.PauseCleaner(true))
	})
	mux.HandleFunc("POST "+AdminCleanResumePath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, map[string]string{"result": "the cleaner runs on its own again"}, g.PauseCleaner(false))
	})
}

// decodeAdminJSON decodes a small JSON document, refusing unknown fields.
func decodeAdminJSON(w http.ResponseWriter, r *http.Request, v any, what string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPolicyJSON))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err != nil && !errors.As(err, new(*http.MaxBytesError)) {
		return s3api.ErrInvalidArgument.WithMessagef("%s is not valid JSON: %v", what, err)
	}
	return err
}
