package server

import (
	"crypto/sha256"
	"crypto/subtle"

	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/resp"
)

// authState is the default user's password as the server checks it. Only
// its SHA-256 digest is kept, compared in constant time, and nothing here
// can print it: INFO, CONFIG GET and the logs never see the password.
type authState struct {
	required bool
	digest   [sha256.Size]byte
}

func newAuthState(password string) authState {
	if password == "" {
		return authState{}
	}
	return authState{required: true, digest: sha256.Sum256([]byte(password))}
}

// defaultUser is the one user raftcache has, as Redis without ACL files.
const defaultUser = "default"

// check reports whether user and password log in: the user must be
// "default" (Redis's user names are case-sensitive) and, when a password
// is set, the password must match it. Without a password the default user
// takes any password, as Redis's nopass user does.
func (a *authState) check(user, password []byte) bool {
	sum := sha256.Sum256(password)
	match := subtle.ConstantTimeCompare(sum[:], a.digest[:]) == 1
	return string(user) == defaultUser && (match || !a.required)
}

// cmdAuth implements AUTH [username] password. A failed AUTH leaves an
// authenticated connection authenticated, as in Redis.
func cmdAuth(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	var user, password []byte
	switch len(a) {
	case 2:
		if !s.auth.required {
			return resp.ErrAuthNotSet.Reply()
		}
		user, password = []byte(defaultUser), a[1]
	case 3:
		user, password = a[1], a[2]
	default:
		return resp.ErrSyntax.Reply()
	}
	if !s.auth.check(user, password) {
		return resp.ErrWrongPass.Reply()
	}
	c.setAuthenticated()
	return resp.OK
}
