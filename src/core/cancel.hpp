#pragma once
// A one-shot cancellation signal: the server fires it when a client disconnects while its
// request is being handled; work on the client's behalf (upstream calls) subscribes to stop.
// Callbacks run on the thread that fires (the connection's thread); subscribe and unsubscribe
// from that same thread.

#include <cstdint>
#include <functional>
#include <map>

namespace sb::core {

class CancelSignal {
 public:
  using Id = std::uint64_t;

  bool fired() const { return fired_; }

  // Runs f when the signal fires (at once if it already has). Returns an id for unsubscribe.
  Id subscribe(std::function<void()> f) {
    if (fired_) {
      f();
      return 0;
    }
    callbacks_.emplace(++next_, std::move(f));
    return next_;
  }
  void unsubscribe(Id id) { callbacks_.erase(id); }

  void fire() {
    if (fired_) return;
    fired_ = true;
    auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    for (auto& [id, f] : callbacks) f();
  }

 private:
  bool fired_ = false;
  Id next_ = 0;
  std::map<Id, std::function<void()>> callbacks_;
};

}  // namespace sb::core
