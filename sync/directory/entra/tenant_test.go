package entra

// A Microsoft Entra ID tenant and Microsoft Graph on one httptest TLS
// server, answering as Microsoft documents: the tenant's OpenID metadata
// (/{tenant}/v2.0/.well-known/openid-configuration), its token endpoint
// (client credentials with a secret or a signed client assertion), GET
// /v1.0/users pages with @odata.nextLink, /v1.0/users/delta with
// @odata.deltaLink, /v1.0/directory/deletedItems/{id}, throttling with
// Retry-After, and Graph's error bodies. azidentity really runs against
// it (authority host = this server, instance discovery off).

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testSecret = "s3cr3t~Value.With_Symbols+&="
)

// tenant is the fake Entra ID tenant and Graph.
type tenant struct {
	t   *testing.T
	srv *httptest.Server
	// caFile is the server's certificate as a PEM CA file.
	caFile string

	mu sync.Mutex
	// users are the Graph user objects, as JSON objects.
	users []map[string]any
	// pageSize is the page size of users and delta pages (capped by $top).
	pageSize int
	// secret and cert are the application's credentials.
	secret string
	cert   *x509.Certificate
	// roles go into issued tokens (the app's granted application
	// permissions).
	roles []string
	// echoSecret makes a refused token request's error_description repeat
	// the form it was sent (a hostile or broken server).
	echoSecret bool
	// throttle answers that many users requests with 429 and retryAfter.
	throttle   int
	retryAfter string
	// cutPage cuts the body of that users page (1-based) in the middle.
	cutPage int
	// deltas maps a delta token to the changes after it (users, or
	// {"id":..., "@removed":{"reason":...}}), and the token after them.
	deltas  map[string]deltaRound
	expired map[string]int // delta token -> status answered (410, 400)
	// deleted are the users in the deleted items, by id.
	deleted map[string]map[string]any

	// federated is the workload identity's federated token (the
	// Kubernetes service account token) the token endpoint accepts.
	federated string
	// miClientID is the user-assigned managed identity the App Service
	// identity endpoint serves ("" : the system-assigned one).
	miClientID string

	tokens   []string
	issued   int
	requests []string
	selects  []string
}

type deltaRound struct {
	changes []map[string]any
	next    string
}

func newTenant(t *testing.T) *tenant { return newTenantHTTP(t, false) }

// newTenantHTTP starts the tenant, speaking HTTP/2 when asked (as Graph
// does) or HTTP/1.1.
func newTenantHTTP(t *testing.T, http2 bool) *tenant {
	t.Helper()
	tn := &tenant{t: t, pageSize: 999, secret: testSecret, roles: []string{"User.Read.All"},
		deltas: map[string]deltaRound{}, expired: map[string]int{}, deleted: map[string]map[string]any{}}
	tn.srv = httptest.NewUnstartedServer(http.HandlerFunc(tn.serve))
	tn.srv.EnableHTTP2 = http2
	tn.srv.StartTLS()
	t.Cleanup(tn.srv.Close)
	tn.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tn.srv.Certificate().Raw})
	if err := os.WriteFile(tn.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return tn
}

// options are Open's options for this tenant with a client secret.
func (tn *tenant) options() Options {
	return Options{Tenant: testTenant, ClientID: testClient, ClientSecret: testSecret,
		AuthorityHost: tn.srv.URL + "/", GraphEndpoint: tn.srv.URL, CAFile: tn.caFile, Timeout: 10 * time.Second}
}

func (tn *tenant) serve(w http.ResponseWriter, r *http.Request) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.requests = append(tn.requests, r.Proto+" "+r.Method+" "+r.URL.Path)
	base := tn.srv.URL
	switch {
	case r.URL.Path == "/"+testTenant+"/v2.0/.well-known/openid-configuration":
		writeJSON(w, 200, map[string]any{
			"token_endpoint":                        base + "/" + testTenant + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/" + testTenant + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/" + testTenant + "/v2.0",
			"jwks_uri":                              base + "/" + testTenant + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "EU",
		})
	case r.URL.Path == "/"+testTenant+"/oauth2/v2.0/token" && r.Method == http.MethodPost:
		tn.token(w, r)
	case r.URL.Path == "/msi/token":
		tn.managedIdentity(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1.0/"):
		tn.graph(w, r)
	default:
		tn.t.Logf("fake tenant: no route for %s %s", r.Method, r.URL)
		writeJSON(w, 404, graphErr("Request_ResourceNotFound", "Resource not found for the segment."))
	}
}

// token is the v2.0 token endpoint for the client credentials grant.
func (tn *tenant) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, tokenErr("invalid_request", "AADSTS900144: bad form"))
		return
	}
	f := r.PostForm
	// MSAL adds "openid offline_access profile" to the requested scope.
	if f.Get("grant_type") != "client_credentials" || !slices.Contains(strings.Fields(f.Get("scope")), tn.srv.URL+"/.default") {
		writeJSON(w, 400, tokenErr("invalid_scope", fmt.Sprintf("AADSTS70011: The provided value for scope %s is not valid.", f.Get("scope"))))
		return
	}
	if f.Get("client_id") != testClient {
		writeJSON(w, 400, tokenErr("unauthorized_client", "AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory."))
		return
	}
	switch {
	case f.Get("client_secret") != "":
		if tn.secret == "" || f.Get("client_secret") != tn.secret {
			desc := "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + testClient + "'."
			if tn.echoSecret {
				desc += " Request: " + r.PostForm.Encode() + " secret=" + f.Get("client_secret")
			}
			writeJSON(w, 401, tokenErr("invalid_client", desc+"\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2025-01-01 00:00:00Z"))
			return
		}
	case f.Get("client_assertion") != "" && tn.federated != "":
		if f.Get("client_assertion") != tn.federated {
			writeJSON(w, 401, tokenErr("invalid_client", "AADSTS70021: No matching federated identity record found for presented assertion."))
			return
		}
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			writeJSON(w, 400, tokenErr("invalid_request", "AADSTS50027: bad assertion type"))
			return
		}
		if err := tn.checkAssertion(f.Get("client_assertion")); err != nil {
			writeJSON(w, 401, tokenErr("invalid_client", "AADSTS700027: Client assertion failed signature validation. "+err.Error()))
			return
		}
	default:
		writeJSON(w, 401, tokenErr("invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."))
		return
	}
	writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tn.issue()})
}

// issue makes an access token Graph accepts.
func (tn *tenant) issue() string {
	tn.issued++
	claims, _ := json.Marshal(map[string]any{"aud": tn.srv.URL, "tid": testTenant, "appid": testClient, "roles": tn.roles, "n": tn.issued})
	tok := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
	tn.tokens = append(tn.tokens, tok)
	return tok
}

// managedIdentity is an App Service managed identity endpoint
// (IDENTITY_ENDPOINT, IDENTITY_HEADER).
func (tn *tenant) managedIdentity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Header.Get("X-IDENTITY-HEADER") != "mi-header" || q.Get("resource") != tn.srv.URL || q.Get("client_id") != tn.miClientID {
		writeJSON(w, 400, map[string]any{"statusCode": 400, "message": "Unable to load the proper Managed Identity."})
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": tn.issue(), "expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"resource": tn.srv.URL, "token_type": "Bearer", "client_id": tn.miClientID})
}

// checkAssertion verifies a client assertion (a JWT signed with the
// application's certificate key): signature, audience, issuer, subject.
func (tn *tenant) checkAssertion(jwt string) error {
	if tn.cert == nil {
		return fmt.Errorf("no certificate registered")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	var hdr struct{ Alg string }
	var claims struct{ Aud, Iss, Sub string }
	for i, v := range []any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			return fmt.Errorf("bad JWT part %d", i)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	pub := tn.cert.PublicKey.(*rsa.PublicKey)
	switch hdr.Alg {
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, nil)
	default:
		err = fmt.Errorf("alg %s", hdr.Alg)
	}
	if err != nil {
		return err
	}
	if claims.Aud != tn.srv.URL+"/"+testTenant+"/oauth2/v2.0/token" || claims.Iss != testClient || claims.Sub != testClient {
		return fmt.Errorf("claims %+v", claims)
	}
	return nil
}

// graph answers Microsoft Graph requests.
func (tn *tenant) graph(w http.ResponseWriter, r *http.Request) {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	known := false
	for _, tok := range tn.tokens {
		known = known || tok == auth
	}
	if !known {
		writeJSON(w, 401, graphErr("InvalidAuthenticationToken", "Access token validation failure. Invalid audience."))
		return
	}
	if len(tn.roles) == 0 {
		writeJSON(w, 403, graphErr("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
		return
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/v1.0/users":
		if tn.throttle > 0 {
			tn.throttle--
			w.Header().Set("Retry-After", tn.retryAfter)
			writeJSON(w, 429, graphErr("TooManyRequests", "Too many requests."))
			return
		}
		tn.selects = append(tn.selects, q.Get("$select"))
		tn.usersPage(w, q, "/v1.0/users")
	case r.URL.Path == "/v1.0/users/delta":
		tn.delta(w, q)
	case r.URL.Path == "/v1.0/odd": // a 200 answer that is not a users page
		w.WriteHeader(200)
		w.Write([]byte(q.Get("body")))
	case strings.HasPrefix(r.URL.Path, "/v1.0/directory/deletedItems/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1.0/directory/deletedItems/")
		u, ok := tn.deleted[id]
		if !ok {
			writeJSON(w, 404, graphErr("Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present."))
			return
		}
		writeJSON(w, 200, u)
	default:
		writeJSON(w, 400, graphErr("BadRequest", "Unsupported segment."))
	}
}

// usersPage answers one page of the users from $skiptoken (an offset
// here; opaque to clients).
func (tn *tenant) usersPage(w http.ResponseWriter, q map[string][]string, path string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	size := tn.pageSize
	if top, err := strconv.Atoi(get("$top")); err == nil && top < size {
		size = top
	}
	from, _ := strconv.Atoi(get("$skiptoken"))
	to := min(from+size, len(tn.users))
	page := map[string]any{"@odata.context": tn.srv.URL + "/v1.0/$metadata#users", "value": tn.users[from:to]}
	if to < len(tn.users) {
		page["@odata.nextLink"] = fmt.Sprintf("%s%s?$select=%s&$top=%s&$skiptoken=%d", tn.srv.URL, path, get("$select"), get("$top"), to)
	} else if path == "/v1.0/users/delta" {
		page["@odata.deltaLink"] = tn.srv.URL + "/v1.0/users/delta?$deltatoken=" + tn.latestToken()
	}
	pageNo := from/max(size, 1) + 1
	if pageNo == tn.cutPage {
		body, _ := json.Marshal(page)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(200)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection closes mid-body
	}
	writeJSON(w, 200, page)
}

// latestToken is the delta token a full round ends with: "t0" unless a
// test set rounds up.
func (tn *tenant) latestToken() string { return "t0" }

// delta answers /users/delta: a full round from scratch (paged like
// users), or the changes after a delta token.
func (tn *tenant) delta(w http.ResponseWriter, q map[string][]string) {
	tok := ""
	if v := q["$deltatoken"]; len(v) > 0 {
		tok = v[0]
	}
	if tok == "" {
		tn.selects = append(tn.selects, strings.Join(q["$select"], ""))
		tn.usersPage(w, q, "/v1.0/users/delta")
		return
	}
	if status, ok := tn.expired[tok]; ok {
		if status == 410 {
			writeJSON(w, 410, graphErr("resyncRequired", "Resync required. Replace any local cached data with a full delta round."))
		} else {
			writeJSON(w, status, graphErr("syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again."))
		}
		return
	}
	round, ok := tn.deltas[tok]
	if !ok {
		writeJSON(w, 400, graphErr("BadRequest", "Invalid delta token."))
		return
	}
	writeJSON(w, 200, map[string]any{"@odata.context": tn.srv.URL + "/v1.0/$metadata#users",
		"value": round.changes, "@odata.deltaLink": tn.srv.URL + "/v1.0/users/delta?$deltatoken=" + round.next})
}

func graphErr(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"date": "2025-01-01T00:00:00", "request-id": "r", "client-request-id": "c"}}}
}

func tokenErr(code, desc string) map[string]any {
	return map[string]any{"error": code, "error_description": desc, "error_codes": []int{7000215},
		"timestamp": "2025-01-01 00:00:00Z", "trace_id": "0000", "correlation_id": "1111"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}
