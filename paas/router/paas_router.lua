-- The router's Lua side, loaded into nginx by paas/router/nginx.py's main config.
--
-- Where each app's requests go lives in the shared dict `paas_routes`, which every worker
-- reads: key = app name, value = a route, "<generation> <ip>:<port> ..." (the generation is
-- 12 hex digits naming this route, sent back as X-Paas-Route; the upstreams are the
-- addresses of the app's healthy web containers, none when nothing healthy runs; a bare
-- port means 127.0.0.1:<port>, as earlier tables held). The control
-- plane changes it through the control endpoint (a UNIX socket, see `control`) without a
-- reload, and keeps the same table in a file that `init` loads when nginx (re)starts.
--
-- Everything written into the table is validated here too: the endpoint is the edge.

local _M = {}

local MAX_UPSTREAMS = 100     -- far above formation's 20 web instances
local MAX_ROUTE_BYTES = 2400 -- 12 + 100 * 22 characters ("255.255.255.255:65535 ") at most

local routes = ngx.shared.paas_routes

-- Per worker: the parsed form of the route text each app had when it was last seen, and
-- where its round robin stands. The dict holds the truth; these only save re-parsing.
local parsed = {}
local turn = {}

local function valid_app(app)
    return type(app) == "string" and #app <= 30 and app:find("^[a-z][a-z0-9%-]*$") ~= nil
end
_M.valid_app = valid_app

-- "a.b.c.d" if `text` is an IPv4 address written as Python's ipaddress writes it (no
-- leading zeros), else nil.
local function ipv4(text)
    local octets = {text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")}
    if #octets ~= 4 then
        return nil
    end
    for _, octet in ipairs(octets) do
        if #octet > 3 or (#octet > 1 and octet:sub(1, 1) == "0") or tonumber(octet) > 255 then
            return nil
        end
    end
    return text
end

-- The upstream `token` names as host, port ("10.0.3.2:5000", or "5000" for loopback), or nil.
local function upstream(token)
    local host, digits = token:match("^([%d.]+):(%d+)$")
    if not host then
        host, digits = "127.0.0.1", token:match("^(%d+)$")
    end
    host = host and ipv4(host)
    local port = digits and digits:find("^[1-9]%d?%d?%d?%d?$") and tonumber(digits)
    if not host or not port or port > 65535 then
        return nil
    end
    return host, port
end

-- The route in `text` as {text, generation, peers = {{host, port}...}}, or nil and why it
-- is refused.
local function parse(text)
    if type(text) ~= "string" or #text > MAX_ROUTE_BYTES then
        return nil, "a route is at most " .. MAX_ROUTE_BYTES .. " bytes"
    end
    if text:find("[^0-9a-f .:]") or text:find("  ", 1, true) or text:find(" $") then
        return nil, "a route is a generation and upstreams separated by single spaces"
    end
    local generation, rest = text:match("^(%x+)(.*)$")
    if not generation or #generation ~= 12 then
        return nil, "a route starts with a 12-digit hex generation"
    end
    local peers, seen = {}, {}
    for token in rest:gmatch("[^ ]+") do
        local host, port = upstream(token)
        if not host then
            return nil, "invalid upstream " .. token .. ": use <IPv4 address>:<port>, the "
                .. "port a whole number from 1 to 65535"
        end
        local key = host .. ":" .. port
        if seen[key] then
            return nil, "upstream " .. key .. " is listed twice"
        end
        seen[key] = true
        peers[#peers + 1] = {host, port}
        if #peers > MAX_UPSTREAMS then
            return nil, "at most " .. MAX_UPSTREAMS .. " upstreams"
        end
    end
    return {text = text, generation = generation, peers = peers}
end
_M.parse = parse

local function lookup(app)
    local text = routes:get(app)
    local cached = parsed[app]
    if text == nil then
        parsed[app] = nil
        return nil
    end
    if cached and cached.text == text then
        return cached
    end
    local route = parse(text)
    parsed[app] = route
    return route
end

-- access_by_lua: the app's route for this request, or its 503 when nothing healthy runs.
function _M.access(app)
    local route = lookup(app)
    if route then
        ngx.var.paas_route = route.generation
    end
    if not route or #route.peers == 0 then
        ngx.status = ngx.HTTP_SERVICE_UNAVAILABLE
        ngx.header["Content-Type"] = "text/plain"
        ngx.print("paas: app ", app, " has no running web processes\n")
        return ngx.exit(ngx.HTTP_OK)
    end
    local ctx = ngx.ctx
    ctx.paas_app = app
    ctx.paas_route = route
end

-- set_by_lua of a server that only redirects to HTTPS: the app's route generation (empty
-- without a route), sent as X-Paas-Route like every answer for the app.
function _M.generation(app)
    local route = lookup(app)
    return route and route.generation or ""
end

-- balancer_by_lua: round robin over the app's upstreams; a retry (proxy_next_upstream) goes
-- to the next one, so each try reaches a different instance. A retry reads the table again:
-- if the route changed since this request started (a deploy switched it and the old
-- instance is going away), it goes to the new route's ports.
function _M.balance()
    local balancer = require "ngx.balancer"
    local ctx = ngx.ctx
    local route = ctx.paas_route
    if not route then
        return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end
    local app = ctx.paas_app
    local index
    if ctx.paas_peer then
        local now = lookup(app)
        if now and now ~= route and #now.peers > 0 then
            route = now
            ctx.paas_route = now
            index = (turn[app] or 0) % #now.peers + 1
            turn[app] = index
        else
            index = ctx.paas_peer % #route.peers + 1
        end
    else
        index = (turn[app] or 0) % #route.peers + 1
        turn[app] = index
        if #route.peers > 1 then
            balancer.set_more_tries(#route.peers - 1)
        end
    end
    ctx.paas_peer = index
    local peer = route.peers[index]
    local ok, err = balancer.set_current_peer(peer[1], peer[2])
    if not ok then
        ngx.log(ngx.ERR, "paas: cannot route to ", peer[1], ":", peer[2], ": ", err)
        return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end
end

local function refuse(status, code, message)
    ngx.status = status
    ngx.header["Content-Type"] = "text/plain"
    ngx.print(code, ": ", message, "\n")
    return ngx.exit(ngx.HTTP_OK)
end

-- content_by_lua of the control endpoint, /routes/<app>:
--   GET     200 and the route, or 404 unknown_route
--   PUT     body: a route; 200 and the route as stored
--   DELETE  204
-- Refusals are 4xx with "<code>: <message>".
function _M.control(app)
    if not valid_app(app) then
        return refuse(400, "invalid_app_name", "invalid app name")
    end
    local method = ngx.req.get_method()
    if method == "GET" then
        local text = routes:get(app)
        if text == nil then
            return refuse(404, "unknown_route", "no route for " .. app)
        end
        ngx.header["Content-Type"] = "text/plain"
        ngx.print(text, "\n")
    elseif method == "PUT" then
        ngx.req.read_body()
        local body = ngx.req.get_body_data() or ""
        local route, why = parse((body:gsub("\n$", "", 1)))
        if not route then
            return refuse(400, "invalid_route", why)
        end
        -- safe_set: never evict another app's route to make room.
        local ok, err = routes:safe_set(app, route.text)
        if not ok then
            return refuse(507, "route_table_full", err)
        end
        ngx.header["Content-Type"] = "text/plain"
        ngx.print(route.text, "\n")
    elseif method == "DELETE" then
        routes:delete(app)
        ngx.status = ngx.HTTP_NO_CONTENT
        return ngx.exit(ngx.HTTP_OK)
    else
        ngx.header["Allow"] = "GET, PUT, DELETE"
        return refuse(405, "method_not_allowed", method .. " is not allowed")
    end
end

-- A socket file left by an nginx that was killed (SIGKILL, a crash) makes bind() fail
-- with "Address already in use", and nginx would never start again. Remove it only when
-- nothing listens on it: a connection that is refused. A live socket (during a reload, or
-- another nginx's `-t`) is kept.
local function remove_stale_socket(path)
    local ffi = require "ffi"
    pcall(ffi.cdef, [[
        struct paas_sockaddr_un { unsigned short sun_family; char sun_path[108]; };
        int socket(int domain, int type, int protocol);
        int connect(int fd, const void *addr, unsigned int len);
        int close(int fd);
    ]])
    local fd = ffi.C.socket(1, 1, 0) -- AF_UNIX, SOCK_STREAM
    if fd < 0 then
        return
    end
    local address = ffi.new("struct paas_sockaddr_un")
    address.sun_family = 1
    ffi.copy(address.sun_path, path)
    local connected = ffi.C.connect(fd, address, ffi.sizeof(address))
    local errno = ffi.errno()
    ffi.C.close(fd)
    if connected ~= 0 and errno == 111 then -- ECONNREFUSED: a socket file, nobody listening
        ngx.log(ngx.NOTICE, "paas: removing the stale control socket ", path)
        os.remove(path)
    end
end

-- init_by_lua (at start and at every reload): load the route table from `routes_file`
-- (lines "<app> <route>"), drop the apps it no longer names, and clear a stale socket.
function _M.init(routes_file, control_socket)
    remove_stale_socket(control_socket)
    local file = io.open(routes_file, "r")
    local wanted = {}
    if file then
        for line in file:lines() do
            if line ~= "" and line:sub(1, 1) ~= "#" then
                local app, text = line:match("^(%S+) (.*)$")
                local route, why = parse(text)
                if valid_app(app) and route then
                    wanted[app] = route.text
                else
                    ngx.log(ngx.ERR, "paas: skipping a bad line of ", routes_file, ": ",
                            why or "invalid app name")
                end
            end
        end
        file:close()
    end
    -- Set, then delete: the dict survives a reload, and old workers keep reading it while
    -- this runs, so it never passes through an empty state.
    for app, text in pairs(wanted) do
        routes:safe_set(app, text)
    end
    for _, app in ipairs(routes:get_keys(0)) do
        if wanted[app] == nil then
            routes:delete(app)
        end
    end
end

return _M
