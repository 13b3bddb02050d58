package barbacane.authz

default allow := false

ctx := object.get(input, "context", {})

roles := split(object.get(ctx, "auth.roles", ""), " ")

sub := object.get(ctx, "auth.sub", input.request.headers["x-user"])

tenant := object.get(ctx, "auth.claims.tenant", "acme")

reading if input.request.method in {"GET", "HEAD"}

writing if input.request.method in {"POST", "PUT", "PATCH"}

is_admin if "admin" in roles

is_reader if "reader" in roles

public_path if input.request.path == "/health"

public_path if startswith(input.request.path, "/public/")

debugging if input.request.query.debug == "true"

owns if input.request.params.owner == sub

same_tenant if input.request.headers["x-tenant"] == tenant

frozen if input.request.headers["x-frozen"] == "yes"

allow if {
	public_path
	reading
}

allow if {
	is_admin
	not debugging
}

allow if {
	is_reader
	reading
	not debugging
}

allow if {
	writing
	owns
	same_tenant
	not frozen
}

allow if {
	reading
	owns
	same_tenant
	not debugging
}
