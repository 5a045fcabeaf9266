-- wrk script: POSTs the same form to a token endpoint with a client's credentials.
-- Usage: wrk ... -s token.lua <token url> -- "<Authorization header value>" <form body>
local headers = {}
local body = ""

function init(args)
  headers["Authorization"] = args[1]
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  body = args[2]
end

function request()
  return wrk.format("POST", nil, headers, body)
end
