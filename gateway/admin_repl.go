package gateway

import (
	"net/http"
)

// Admin paths of remotes and replication relationships. The replication
// protocol itself is served under ReplicationProtocolPath, to peers signing
// with this gateway's root key.
const (
	// AdminRemotesPath lists (GET: []RemoteStatus), adds (POST, a
	// RemoteConfig: probed first) or removes (DELETE ?name=) remotes.
	AdminRemotesPath = "/_cairn/admin/remotes"
	// AdminReplicationPath lists relationships (GET: []ReplicationStatus),
	// sets one (POST, a ReplicationSpec) or removes one (DELETE ?bucket=).
	AdminReplicationPath = "/_cairn/admin/replication"
	// AdminReplicationPausePath, ResumePath and RunPath (POST ?bucket=)
	// pause, resume, and run a relationship now (answering ReplicationRun
	// once its log is empty).
	AdminReplicationPausePath  = "/_cairn/admin/replication/pause"
	AdminReplicationResumePath = "/_cairn/admin/replication/resume"
	AdminReplicationRunPath    = "/_cairn/admin/replication/run"
	// AdminReplicationReversePath (POST ?bucket=&back=REMOTE, or &abort=1)
	// reverses a relationship (reverse.go) and answers a ReverseResult.
	AdminReplicationReversePath = "/_cairn/admin/replication/reverse"
	// AdminSeedPath answers the SeedStatus of the run in progress (GET);
	// AdminSeedExportPath (POST ?bucket=&dir=) exports a bucket's seed to
	// a directory on the server, AdminSeedImportPath (POST ?bucket=&dir=)
	// imports one; both answer a SeedResult.
	AdminSeedPath       = "/_cairn/admin/seed"
	AdminSeedExportPath = "/_cairn/admin/seed/export"
	AdminSeedImportPath = "/_cairn/admin/seed/import"
	// ReplicationProtocolPath is where peers speak the replication
	// protocol (package replicator).
	ReplicationProtocolPath = "/_cairn/replication/"
)

func (g *Gateway) replicationRoutes(mux *http.ServeMux) {
	mux.Handle(ReplicationProtocolPath, g.replHandler)
	mux.HandleFunc("GET "+AdminRemotesPath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, g.Remotes(), nil)
	})
	mux.HandleFunc("POST "+AdminRemotesPath, func(w http.ResponseWriter, r *http.Request) {
		var c RemoteConfig
		err := decodeAdminJSON(w, r, &c, "the remote")
		var out any
		if err == nil {
			out, err = g.AddRemote(r.Context(), c)
		}
		g.reply(w, r, out, err)
	})
	mux.HandleFunc("DELETE "+AdminRemotesPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		g.reply(w, r, map[string]string{"result": "remote " + name + " removed"}, g.RemoveRemote(r.Context(), name))
	})
	mux.HandleFunc("GET "+AdminReplicationPath, func(w http.ResponseWriter, r *http.Request) {
		st, err := g.Replications()
		g.reply(w, r, st, err)
	})
	mux.HandleFunc("POST "+AdminReplicationPath, func(w http.ResponseWriter, r *http.Request) {
		var spec ReplicationSpec
		err := decodeAdminJSON(w, r, &spec, "the replication")
		if err == nil {
			err = g.AddReplication(r.Context(), spec)
		}
		g.reply(w, r, map[string]string{"result": "bucket " + spec.Bucket + " replicates to " + spec.ReplicaBucket + " at " + spec.Remote}, err)
	})
	mux.HandleFunc("DELETE "+AdminReplicationPath, func(w http.ResponseWriter, r *http.Request) {
		b := r.URL.Query().Get("bucket")
		g.reply(w, r, map[string]string{"result": "bucket " + b + " no longer replicates"}, g.RemoveReplication(r.Context(), b))
	})
	mux.HandleFunc("POST "+AdminReplicationPausePath, func(w http.ResponseWriter, r *http.Request) {
		b := r.URL.Query().Get("bucket")
		g.reply(w, r, map[string]string{"result": "replication of " + b + " paused"}, g.PauseReplication(b, true))
	})
	mux.HandleFunc("POST "+AdminReplicationResumePath, func(w http.ResponseWriter, r *http.Request) {
		b := r.URL.Query().Get("bucket")
		g.reply(w, r, map[string]string{"result": "replication of " + b + " resumed"}, g.PauseReplication(b, false))
	})
	mux.HandleFunc("GET "+AdminSeedPath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, g.SeedStatus(), nil)
	})
	mux.HandleFunc("POST "+AdminSeedExportPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res, err := g.ExportSeed(r.Context(), q.Get("bucket"), q.Get("dir"))
		g.reply(w, r, res, err)
	})
	mux.HandleFunc("POST "+AdminSeedImportPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res, err := g.ImportSeed(r.Context(), q.Get("bucket"), q.Get("dir"))
		g.reply(w, r, res, err)
	})
	mux.HandleFunc("POST "+AdminReplicationReversePath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res, err := g.ReverseReplication(r.Context(), q.Get("bucket"), q.Get("back"), q.Get("abort") == "1")
		g.reply(w, r, res, err)
	})
	mux.HandleFunc("POST "+AdminReplicationRunPath, func(w http.ResponseWriter, r *http.Request) {
		run, err := g.RunReplication(r.Context(), r.URL.Query().Get("bucket"))
		g.reply(w, r, run, err)
	})
}
