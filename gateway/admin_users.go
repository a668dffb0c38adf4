package gateway

import (
	"net/http"
)

// The users' admin API (users.go), root only like the rest of it.
const (
	// AdminUsersPath lists the users (GET: []UserInfo), adds one (POST, a
	// UserSpec: answers its first UserKey, the only time the secret is
	// shown) or removes one (DELETE ?name=).
	AdminUsersPath = "/_cairn/admin/users"
	// AdminUserKeysPath?name=U adds a key to user U (POST: a UserKey) or
	// removes one (DELETE &key=ACCESSKEY).
	AdminUserKeysPath = "/_cairn/admin/users/keys"
	// AdminUserPolicyPath?name=U (PUT) replaces U's policy with a
	// UserSpec's Policy.
	AdminUserPolicyPath = "/_cairn/admin/users/policy"
	// AdminUserDisablePath?name=U and AdminUserEnablePath?name=U (POST)
	// disable or enable U: a disabled user's keys stop working at once.
	AdminUserDisablePath = "/_cairn/admin/users/disable"
	AdminUserEnablePath  = "/_cairn/admin/users/enable"
)

// UserSpec is a user to add, or a new policy for one: Policy is a
// built-in policy's name (readwrite, readonly, writeonly) or an identity
// policy document; "" adds a readwrite user, and sets no policy.
type UserSpec struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
}

func (g *Gateway) userRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AdminUsersPath, func(w http.ResponseWriter, r *http.Request) {
		us, err := g.Users(r.Context())
		g.reply(w, r, us, err)
	})
	mux.HandleFunc("POST "+AdminUsersPath, func(w http.ResponseWriter, r *http.Request) {
		var spec UserSpec
		err := decodeAdminJSON(w, r, &spec, "the user")
		var key UserKey
		if err == nil {
			key, err = g.AddUser(r.Context(), spec.Name, spec.Policy)
		}
		g.reply(w, r, key, err)
	})
	mux.HandleFunc("DELETE "+AdminUsersPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		g.reply(w, r, map[string]string{"result": "user " + name + " removed"}, g.RemoveUser(r.Context(), name))
	})
	mux.HandleFunc("POST "+AdminUserKeysPath, func(w http.ResponseWriter, r *http.Request) {
		key, err := g.AddUserKey(r.Context(), r.URL.Query().Get("name"))
		g.reply(w, r, key, err)
	})
	mux.HandleFunc("DELETE "+AdminUserKeysPath, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		err := g.RemoveUserKey(r.Context(), q.Get("name"), q.Get("key"))
		g.reply(w, r, map[string]string{"result": "key " + q.Get("key") + " of user " + q.Get("name") + " removed"}, err)
	})
	mux.HandleFunc("PUT "+AdminUserPolicyPath, func(w http.ResponseWriter, r *http.Request) {
		var spec UserSpec
		err := decodeAdminJSON(w, r, &spec, "the policy")
		name := r.URL.Query().Get("name")
		if err == nil {
			err = g.SetUserPolicy(r.Context(), name, spec.Policy)
		}
		g.reply(w, r, map[string]string{"result": "policy of user " + name + " set"}, err)
	})
	mux.HandleFunc("POST "+AdminUserDisablePath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		g.reply(w, r, map[string]string{"result": "user " + name + " disabled"}, g.SetUserDisabled(r.Context(), name, true))
	})
	mux.HandleFunc("POST "+AdminUserEnablePath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		g.reply(w, r, map[string]string{"result": "user " + name + " enabled"}, g.SetUserDisabled(r.Context(), name, false))
	})
}
