// Reference peer for bench/http: a bare Node.js http server with the same two routes
// (GET /health, POST /api/v1/echo parsing and re-serialising JSON). No framework, no logging.
const http = require('http');
const port = Number(process.argv[2] || 18081);
http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    const body = '{"status":"ok"}';
    res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': body.length});
    res.end(body);
    return;
  }
  if (req.method === 'POST' && req.url === '/api/v1/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString()));
      } catch (e) {
        res.writeHead(400, {'Content-Type': 'application/json'});
        res.end('{"error":{"message":"invalid JSON"}}');
        return;
      }
      res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)});
      res.end(body);
    });
    return;
  }
  res.writeHead(404);
  res.end();
}).listen(port, '127.0.0.1');
