#pragma once
// What the server asks before and after every routed request: who is calling and whether they
// may (authentication, scopes, rate limits, budgets), which headers their answer carries, and
// what to record once it is sent. The control plane implements it (api/control_gate.hpp); the
// server knows only this.

#include <optional>

#include "http/message.hpp"
#include "http/router.hpp"

namespace sb::http {

class Gate {
 public:
  virtual ~Gate() = default;
  // Before the handler (on the connection's thread, so it must not block). A response refuses
  // the request with it; nullopt lets it through (with req.context set, when there is a caller).
  virtual std::optional<Response> admit(Request& req, const Match& match) = 0;
  // After the handler, before anything is written: headers for the caller (rate limits, cost).
  virtual void respond(Request& req, Response& res) = 0;
  // A whole answer: just before it is written; a stream: after it was written or abandoned.
  virtual void finish(Request& req, int status) = 0;
};

// No control plane: everything is let through (tests of the server alone).
class OpenGate final : public Gate {
 public:
  std::optional<Response> admit(Request&, const Match&) override { return std::nullopt; }
  void respond(Request&, Response&) override {}
  void finish(Request&, int) override {}
};

}  // namespace sb::http
