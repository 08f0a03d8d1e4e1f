package demo

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxCacheSeconds caps /cache/{seconds}: one year.
const maxCacheSeconds = 365 * 24 * 3600

// serveCache answers a JSON body with the current time that caches may
// keep for the given seconds. Its validators are those of a "version"
// that changes every max(seconds, 1) seconds, on boundaries aligned to
// multiples of that period since the Unix epoch:
//
//	ETag:          W/"cache-<seconds>-<version start, Unix seconds>"
//	Last-Modified: the version start
//
// The ETag is weak because the body (the current time) changes within a
// version while its meaning doesn't. GET and HEAD with a matching
// If-None-Match, or (without If-None-Match) an If-Modified-Since at or
// after the version start, get 304.
func (s *Server) serveCache(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("seconds")
	secs, ok := parseBounded(raw, maxCacheSeconds)
	if !ok {
		s.badParam(w, "seconds", raw, maxCacheSeconds)
		return
	}
	now := s.now()
	period := int64(max(secs, 1))
	start := now.Unix() - now.Unix()%period // now is after 1970: no negative remainder
	modified := time.Unix(start, 0).UTC()
	etag := `W/"cache-` + strconv.Itoa(secs) + "-" + strconv.FormatInt(start, 10) + `"`

	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(secs))
	h.Set("ETag", etag)
	h.Set("Last-Modified", modified.Format(http.TimeFormat))
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && notModified(r, etag, modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeJSON(w, http.StatusOK, struct {
		Time         string `json:"time"`
		MaxAge       int    `json:"max_age"`
		ETag         string `json:"etag"`
		LastModified string `json:"last_modified"`
	}{now.UTC().Format(time.RFC3339Nano), secs, etag, modified.Format(time.RFC3339)})
}

// notModified evaluates If-None-Match, or failing that If-Modified-Since,
// as RFC 9110 section 13.2.2 orders them for GET and HEAD.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagListMatches(inm, etag)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return false // an unparsable date is ignored, as RFC 9110 says
	}
	return !modified.After(t)
}

// etagListMatches reports whether the If-None-Match list holds "*" or a
// tag weakly equal to etag (the W/ prefix ignored on both sides).
func etagListMatches(list, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for tag := range strings.SplitSeq(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}
