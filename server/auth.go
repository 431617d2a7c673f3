package server

import (
	"github.com/tidwall/redcon"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/resp"
)

// cmdAuth implements AUTH [username] password against the ACL users
// (acl.go): AUTH password logs in as the default user, which Redis
// refuses when the default user has no password. A failed AUTH leaves an
// authenticated connection authenticated, as in Redis, and is recorded in
// the ACL LOG.
func cmdAuth(s *Server, _ redcon.Conn, c *client, _, _ *resp.Command, a [][]byte) resp.Reply {
	var user, password []byte
	switch len(a) {
	case 2:
		if s.users().Default().NoPass() {
			return resp.ErrAuthNotSet.Reply()
		}
		user, password = []byte(acl.DefaultUser), a[1]
	case 3:
		user, password = a[1], a[2]
	default:
		return resp.ErrSyntax.Reply()
	}
	if !s.authenticate(c, a[0], user, password) {
		return resp.ErrWrongPass.Reply()
	}
	return resp.OK
}
