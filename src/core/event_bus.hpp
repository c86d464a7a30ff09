#pragma once
// Live events (job status changes, messages stored in conversations) for subscribers on SSE and
// WebSocket connections. In process: a publisher on any thread hands each matching subscriber
// the event and wakes it on its own executor. A subscriber's mailbox is bounded (events and
// bytes): one that does not keep up is marked dropped, its mailbox emptied, and its connection
// ends with the reason — a slow client never makes memory grow. Subscribers see only the events
// of their own key, unless they see everyone's (an admin key, or a server without keys).
//
// A Redis-backed bus (several replicas) implements the same calls later.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sb::core {

struct BusEvent {
  std::string topic;  // "job" | "conversation"
  std::string id;     // the job's or conversation's id
  std::string type;   // job.queued, job.processing, job.completed, ..., message.created
  std::string owner;  // the key that owns it ("" = none)
  std::string data;   // the event as a JSON object
};

struct MailboxLimits {
  std::size_t max_events = 1024;
  std::size_t max_bytes = 1 << 20;
  std::size_t max_filters = 1000;
};

class Subscription {
 public:
  Subscription(boost::asio::any_io_executor ex, std::optional<std::string> owner, MailboxLimits limits);

  // Woken (cancelled) when events arrive or the subscription is dropped; wait on it from its
  // executor only.
  boost::asio::steady_timer wake;

  // Filters: an event is delivered when one matches its topic and id ("" = every id).
  // false: over max_filters.
  bool watch(const std::string& topic, const std::string& id);
  bool unwatch(const std::string& topic, const std::string& id);
  std::size_t filters() const;

  // What arrived since the last call, oldest first.
  std::vector<std::shared_ptr<const BusEvent>> take();
  // The subscriber fell behind (its mailbox overflowed); nothing more is delivered.
  bool dropped() const;
  // The server is shutting down: the subscriber should end (EventBus::close_all).
  bool closed() const;
  void close();
  std::size_t pending() const;

  // (the bus) Offers an event: false when it does not match.
  bool offer(const std::shared_ptr<const BusEvent>& e);

 private:
  mutable std::mutex mu_;
  std::set<std::pair<std::string, std::string>> filters_;
  std::deque<std::shared_ptr<const BusEvent>> queue_;
  std::size_t bytes_ = 0;
  bool dropped_ = false;
  bool closed_ = false;
  std::optional<std::string> owner_;  // nullopt: everyone's events
  MailboxLimits limits_;
};

class EventBus {
 public:
  std::shared_ptr<Subscription> subscribe(boost::asio::any_io_executor ex, std::optional<std::string> owner,
                                          MailboxLimits limits = {});
  void unsubscribe(const std::shared_ptr<Subscription>& s);

  // From any thread.
  void publish(BusEvent e);
  // Shutdown: every subscription is closed and woken, so streams end instead of holding the
  // drain until its grace period.
  void close_all();

  std::size_t subscribers() const;
  long long dropped_total() const;  // subscriptions dropped for falling behind
  long long published_total() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subs_;
  long long dropped_ = 0;
  long long published_ = 0;
};

}  // namespace sb::core
