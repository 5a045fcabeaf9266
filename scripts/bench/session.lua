-- wrk script: every request carries a random seeded session, as a cookie or as a header.
-- Usage: wrk ... -s session.lua <url> -- <tokens file> <cookie|header>
local tokens = {}
local mode = "cookie"

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  mode = args[2] or "cookie"
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local token = tokens[math.random(#tokens)]
  if mode == "header" then
    return wrk.format("GET", nil, { ["X-Session-Token"] = token })
  end
  return wrk.format("GET", nil, { ["Cookie"] = "ory_kratos_session=" .. token })
end
