// Package entratest is a Microsoft Entra ID tenant and Microsoft Graph
// for tests: one httptest TLS server. Tests of sync/directory/entra and of
// the commands that read entra: directories use it.
package entratest

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

// The tenant's and its application's identity, and the application's
// secret unless a test changes Tenant.Secret.
const (
	TenantID      = "11111111-2222-3333-4444-555555555555"
	ClientID      = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	DefaultSecret = "s3cr3t~Value.With_Symbols+&="
)

// Tenant is the fake Entra ID tenant and Graph.
type Tenant struct {
	t      testing.TB
	Server *httptest.Server
	// CAFile is the server's certificate as a PEM CA file.
	CAFile string

	// Mu guards the fields while the server runs.
	Mu sync.Mutex
	// Users are the Graph user objects, as JSON objects.
	Users []map[string]any
	// PageSize is the page size of users and delta pages (capped by $top).
	PageSize int
	// Secret and Cert are the application's credentials.
	Secret string
	Cert   *x509.Certificate
	// Roles go into issued tokens (the app's granted application
	// permissions).
	Roles []string
	// EchoSecret makes a refused token request's error_description repeat
	// the form it was sent (a hostile or broken server).
	EchoSecret bool
	// Throttle answers that many users requests with 429 and RetryAfter.
	Throttle   int
	RetryAfter string
	// CutPage cuts the body of that users page (1-based) in the middle.
	CutPage int
	// Deltas maps a delta token to the changes after it (users, or
	// {"id":..., "@removed":{"reason":...}}), and the token after them.
	Deltas  map[string]DeltaRound
	Expired map[string]int // delta token -> status answered (410, 400)
	// Deleted are the users in the deleted items, by id.
	Deleted map[string]map[string]any

	// Federated is the workload identity's federated token (the
	// Kubernetes service account token) the token endpoint accepts.
	Federated string
	// MIClientID is the user-assigned managed identity the App Service
	// identity endpoint serves ("" : the system-assigned one).
	MIClientID string

	// Tokens are the access tokens issued (Graph accepts these), Issued
	// how many; Requests lists "PROTO METHOD PATH" of each request and
	// Selects the $select of each users page.
	Tokens   []string
	Issued   int
	Requests []string
	Selects  []string
}

// DeltaRound is what /users/delta answers after a delta token: the
// changes and the next token.
type DeltaRound struct {
	Changes []map[string]any
	Next    string
}

// New starts a tenant speaking HTTP/1.1.
func New(t testing.TB) *Tenant { return NewHTTP(t, false) }

// NewHTTP starts the tenant, speaking HTTP/2 when asked (as Graph
// does) or HTTP/1.1.
func NewHTTP(t testing.TB, http2 bool) *Tenant {
	t.Helper()
	tn := &Tenant{t: t, PageSize: 999, Secret: DefaultSecret, Roles: []string{"User.Read.All"},
		Deltas: map[string]DeltaRound{}, Expired: map[string]int{}, Deleted: map[string]map[string]any{}}
	tn.Server = httptest.NewUnstartedServer(http.HandlerFunc(tn.serve))
	tn.Server.EnableHTTP2 = http2
	tn.Server.StartTLS()
	t.Cleanup(tn.Server.Close)
	tn.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tn.Server.Certificate().Raw})
	if err := os.WriteFile(tn.CAFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return tn
}

// AuthorityHost is the authority host to give azidentity.
func (tn *Tenant) AuthorityHost() string { return tn.Server.URL + "/" }

func (tn *Tenant) serve(w http.ResponseWriter, r *http.Request) {
	tn.Mu.Lock()
	defer tn.Mu.Unlock()
	tn.Requests = append(tn.Requests, r.Proto+" "+r.Method+" "+r.URL.Path)
	base := tn.Server.URL
	switch {
	case r.URL.Path == "/"+TenantID+"/v2.0/.well-known/openid-configuration":
		writeJSON(w, 200, map[string]any{
			"token_endpoint":                        base + "/" + TenantID + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/" + TenantID + "/oauth2/v2.0/authorize",
			"issuer":                                base + "/" + TenantID + "/v2.0",
			"jwks_uri":                              base + "/" + TenantID + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "EU",
		})
	case r.URL.Path == "/"+TenantID+"/oauth2/v2.0/token" && r.Method == http.MethodPost:
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
func (tn *Tenant) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, tokenErr("invalid_request", "AADSTS900144: bad form"))
		return
	}
	f := r.PostForm
	// MSAL adds "openid offline_access profile" to the requested scope.
	if f.Get("grant_type") != "client_credentials" || !slices.Contains(strings.Fields(f.Get("scope")), tn.Server.URL+"/.default") {
		writeJSON(w, 400, tokenErr("invalid_scope", fmt.Sprintf("AADSTS70011: The provided value for scope %s is not valid.", f.Get("scope"))))
		return
	}
	if f.Get("client_id") != ClientID {
		writeJSON(w, 400, tokenErr("unauthorized_client", "AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory."))
		return
	}
	switch {
	case f.Get("client_secret") != "":
		if tn.Secret == "" || f.Get("client_secret") != tn.Secret {
			desc := "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + ClientID + "'."
			if tn.EchoSecret {
				desc += " Request: " + r.PostForm.Encode() + " secret=" + f.Get("client_secret")
			}
			writeJSON(w, 401, tokenErr("invalid_client", desc+"\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2025-01-01 00:00:00Z"))
			return
		}
	case f.Get("client_assertion") != "" && tn.Federated != "":
		if f.Get("client_assertion") != tn.Federated {
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
	writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tn.Issue()})
}

// Issue makes an access token Graph accepts.
func (tn *Tenant) Issue() string {
	tn.Issued++
	claims, _ := json.Marshal(map[string]any{"aud": tn.Server.URL, "tid": TenantID, "appid": ClientID, "roles": tn.Roles, "n": tn.Issued})
	tok := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
	tn.Tokens = append(tn.Tokens, tok)
	return tok
}

// managedIdentity is an App Service managed identity endpoint
// (IDENTITY_ENDPOINT, IDENTITY_HEADER).
func (tn *Tenant) managedIdentity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Header.Get("X-IDENTITY-HEADER") != "mi-header" || q.Get("resource") != tn.Server.URL || q.Get("client_id") != tn.MIClientID {
		writeJSON(w, 400, map[string]any{"statusCode": 400, "message": "Unable to load the proper Managed Identity."})
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": tn.Issue(), "expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"resource": tn.Server.URL, "token_type": "Bearer", "client_id": tn.MIClientID})
}

// checkAssertion verifies a client assertion (a JWT signed with the
// application's certificate key): signature, audience, issuer, subject.
func (tn *Tenant) checkAssertion(jwt string) error {
	if tn.Cert == nil {
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
	pub := tn.Cert.PublicKey.(*rsa.PublicKey)
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
	if claims.Aud != tn.Server.URL+"/"+TenantID+"/oauth2/v2.0/token" || claims.Iss != ClientID || claims.Sub != ClientID {
		return fmt.Errorf("claims %+v", claims)
	}
	return nil
}

// graph answers Microsoft Graph requests.
func (tn *Tenant) graph(w http.ResponseWriter, r *http.Request) {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	known := false
	for _, tok := range tn.Tokens {
		known = known || tok == auth
	}
	if !known {
		writeJSON(w, 401, graphErr("InvalidAuthenticationToken", "Access token validation failure. Invalid audience."))
		return
	}
	if len(tn.Roles) == 0 {
		writeJSON(w, 403, graphErr("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
		return
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/v1.0/users":
		if tn.Throttle > 0 {
			tn.Throttle--
			w.Header().Set("Retry-After", tn.RetryAfter)
			writeJSON(w, 429, graphErr("TooManyRequests", "Too many requests."))
			return
		}
		tn.Selects = append(tn.Selects, q.Get("$select"))
		tn.usersPage(w, q, "/v1.0/users")
	case r.URL.Path == "/v1.0/users/delta":
		tn.delta(w, q)
	case r.URL.Path == "/v1.0/odd": // a 200 answer that is not a users page
		w.WriteHeader(200)
		w.Write([]byte(q.Get("body")))
	case strings.HasPrefix(r.URL.Path, "/v1.0/directory/deletedItems/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1.0/directory/deletedItems/")
		u, ok := tn.Deleted[id]
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
func (tn *Tenant) usersPage(w http.ResponseWriter, q map[string][]string, path string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	size := tn.PageSize
	if top, err := strconv.Atoi(get("$top")); err == nil && top < size {
		size = top
	}
	from, _ := strconv.Atoi(get("$skiptoken"))
	to := min(from+size, len(tn.Users))
	page := map[string]any{"@odata.context": tn.Server.URL + "/v1.0/$metadata#users", "value": tn.Users[from:to]}
	if to < len(tn.Users) {
		page["@odata.nextLink"] = fmt.Sprintf("%s%s?$select=%s&$top=%s&$skiptoken=%d", tn.Server.URL, path, get("$select"), get("$top"), to)
	} else if path == "/v1.0/users/delta" {
		page["@odata.deltaLink"] = tn.Server.URL + "/v1.0/users/delta?$deltatoken=" + tn.latestToken()
	}
	pageNo := from/max(size, 1) + 1
	if pageNo == tn.CutPage {
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
func (tn *Tenant) latestToken() string { return "t0" }

// delta answers /users/delta: a full round from scratch (paged like
// users), or the changes after a delta token.
func (tn *Tenant) delta(w http.ResponseWriter, q map[string][]string) {
	tok := ""
	if v := q["$deltatoken"]; len(v) > 0 {
		tok = v[0]
	}
	if tok == "" {
		tn.Selects = append(tn.Selects, strings.Join(q["$select"], ""))
		tn.usersPage(w, q, "/v1.0/users/delta")
		return
	}
	if status, ok := tn.Expired[tok]; ok {
		if status == 410 {
			writeJSON(w, 410, graphErr("resyncRequired", "Resync required. Replace any local cached data with a full delta round."))
		} else {
			writeJSON(w, status, graphErr("syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again."))
		}
		return
	}
	round, ok := tn.Deltas[tok]
	if !ok {
		writeJSON(w, 400, graphErr("BadRequest", "Invalid delta token."))
		return
	}
	writeJSON(w, 200, map[string]any{"@odata.context": tn.Server.URL + "/v1.0/$metadata#users",
		"value": round.Changes, "@odata.deltaLink": tn.Server.URL + "/v1.0/users/delta?$deltatoken=" + round.Next})
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
