package gateway

import (
	"net/http"
)

// AdminKMSKeysPath is the KMS key ring: GET lists its keys, POST
// ?name=NAME adds one (cairn admin kms key ls | add NAME).
const AdminKMSKeysPath = "/_cairn/admin/kms/keys"

func (g *Gateway) kmsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AdminKMSKeysPath, func(w http.ResponseWriter, r *http.Request) {
		g.reply(w, r, g.KMSKeys(), nil)
	})
	mux.HandleFunc("POST "+AdminKMSKeysPath, func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		k, err := g.AddKMSKey(name)
		if err != nil {
			if _, exists := g.sse.kms.lookup(name); exists {
				err = conflict("KMSKeyExists", "KMS key %q exists already: a key is never replaced, objects sealed under it need it", name)
			} else {
				err = badRequest("%v", err)
			}
		}
		g.reply(w, r, k, err)
	})
}

// lookup says whether the ring has key name.
func (r *keyRing) lookup(name string) (KMSKey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.keys[name]
	return rec.KMSKey, ok
}
