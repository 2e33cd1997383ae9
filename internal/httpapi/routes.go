package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// The API routes on the path as sent, never through http.ServeMux: the mux
// cleans a path before matching it and answers an unclean one (a//b,
// a/../b, a/./b) with a 307 to the cleaned path. A synchronizationId is
// polled as path segments, so such a redirect would send a client to
// another id's URL; the contract instead answers every path under
// /purchases/synchronizations/ itself (REQ0003 when it is not a valid id),
// in Lambda, in the local runner and in tests alike.

// route serves one endpoint: a method on a path, optionally followed by one
// path parameter.
type route struct {
	method string
	// path is matched exactly, or, with param set, as the prefix (ending
	// in "/") of the parameter.
	path  string
	param string
	// rest: the parameter is the rest of the path, slashes included;
	// otherwise it is one non-empty segment.
	rest bool
	// bare also serves path without its trailing "/", with an empty
	// parameter, so that the handler answers it (REQ0003) and not a 404.
	bare bool
	next http.Handler
}

func (rt route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	value, ok := rt.match(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// GET also answers HEAD, as a "GET …" ServeMux pattern does.
	if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
		allow := []string{rt.method}
		if rt.method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if rt.param != "" {
		r.SetPathValue(rt.param, value)
	}
	rt.next.ServeHTTP(w, r)
}

// match reports whether the request's path is the route's, and the
// parameter's value, unescaped. The path is compared in its escaped form, so
// that %2F is part of a segment, never a separator.
func (rt route) match(r *http.Request) (string, bool) {
	escaped := r.URL.EscapedPath()
	if rt.param == "" {
		return "", escaped == rt.path
	}
	if rt.bare && escaped == strings.TrimSuffix(rt.path, "/") {
		return "", true
	}
	rest, ok := strings.CutPrefix(escaped, rt.path)
	if !ok || (!rt.rest && (rest == "" || strings.Contains(rest, "/"))) {
		return "", false
	}
	// The prefix has no escapes, so the unescaped path is the prefix
	// followed by the unescaped parameter.
	return r.URL.Path[len(rt.path):], true
}

// Routes dispatches requests among handlers by path prefix, on the path as
// sent: unlike http.ServeMux it never cleans a path nor redirects. The local
// runner and the tests compose the endpoints with it.
type Routes struct {
	prefixes []prefixRoute
}

type prefixRoute struct {
	prefix string
	next   http.Handler
}

// Handle serves prefix, and every path under prefix + "/", with h. The
// longest matching prefix wins; "/" matches every path.
func (rs *Routes) Handle(prefix string, h http.Handler) {
	rs.prefixes = append(rs.prefixes, prefixRoute{prefix: strings.TrimSuffix(prefix, "/"), next: h})
	slices.SortStableFunc(rs.prefixes, func(a, b prefixRoute) int { return len(b.prefix) - len(a.prefix) })
}

func (rs *Routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	for _, p := range rs.prefixes {
		if path == p.prefix || strings.HasPrefix(path, p.prefix+"/") {
			p.next.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}
