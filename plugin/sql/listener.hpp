#pragma once
// Notifications on one channel of a PostgreSQL database (LISTEN/NOTIFY), heard on a session of
// their own, so a process learns of another's commit at once instead of at its next look. The
// session is made on the first wait and made again, with backoff, whenever it is lost: a listener
// never throws and never ends the process. SQLite has no such thing: its readers keep polling.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace seke::sql {

// What `channel`'s listeners are told inside a write transaction, with one text parameter (the
// payload): they hear it when the transaction commits, never before, never for a rollback.
inline constexpr std::string_view kNotifySql = "SELECT pg_notify(?, ?)";

class Listener {
  public:
    using Log = std::function<void(const std::string& line)>;

    // `target` a PostgreSQL URI; `channel` a plain identifier (letters, digits, underscores).
    // `log` hears of each lost session and each renewal (never the password).
    Listener(std::string target, std::string channel, Log log = {});
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Waits until a notification on the channel, `timeout`, or interrupt(). true when one came, or
    // when a session began (a notification may have been sent while there was none): either way
    // the caller looks at what it listens for. A session being made may take the wait past
    // `timeout`, by at most its connect limit (5 s). While the database is unreachable it waits
    // out the timeout and tries again when the backoff allows (200 ms, doubling, at most 5 s).
    bool wait(std::chrono::milliseconds timeout);
    // Makes every wait, now and later, return false at once (a shutdown). Thread-safe.
    void interrupt();
    // A session is listening now.
    [[nodiscard]] bool listening() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke::sql
