package s3api

import (
	"testing"

	"github.com/gorilla/mux"
)

// TestEveryRouteNamesItsOperation: Config.Observe reports the route's name
// as the S3 operation, so a route added without one would be "Unknown".
func TestEveryRouteNamesItsOperation(t *testing.T) {
	h := &handler{}
	n := 0
	err := h.routes().Walk(func(rt *mux.Route, _ *mux.Router, ancestors []*mux.Route) error {
		if rt.GetHandler() == nil {
			return nil // a level's subrouter, not an operation
		}
		n++
		if rt.GetName() == "" {
			methods, _ := rt.GetMethods()
			t.Errorf("a %v route has no operation name", methods)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 30 {
		t.Fatalf("walked %d routes; the router has more", n)
	}
}
