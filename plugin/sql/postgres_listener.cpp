// The listener on libpq: a non-blocking connect and a poll on the session's socket beside an
// eventfd that interrupt() signals, so nothing here blocks past a timeout or a shutdown.
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <iostream>

#include "plugin/sql/connection.hpp"
#include "plugin/sql/listener.hpp"
#include "verify/text.hpp"

namespace seke::sql {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kConnectLimit = std::chrono::seconds(5);
constexpr auto kFirstRetry = std::chrono::milliseconds(200);
constexpr auto kLastRetry = std::chrono::milliseconds(5000);

int remaining_ms(Clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
}

}  // namespace

struct Listener::Impl {
    std::string target;
    std::string channel;
    Log log;
    int wakeup = -1;  // eventfd: readable once interrupted
    PGconn* conn = nullptr;
    std::atomic<bool> listening{false};
    Clock::time_point retry_at{};
    std::chrono::milliseconds backoff = kFirstRetry;
    bool lost_logged = false;  // the current outage was reported

    void say(const std::string& line) const {
        if (log) {
            try {
                log(line);
            } catch (...) {
            }
        } else {
            std::cerr << "seke: " << line << '\n';
        }
    }

    [[nodiscard]] bool interrupted() const {
        pollfd fd{wakeup, POLLIN, 0};
        return wakeup >= 0 && ::poll(&fd, 1, 0) > 0;  // without an eventfd, poll skips it
    }

    // Polls the session's socket (when `socket` >= 0) and the eventfd: true when the socket is
    // ready in `events` before `until`; false at the time-out or an interrupt.
    bool ready(int socket, short events, Clock::time_point until) const {
        for (;;) {
            pollfd fds[2] = {{wakeup, POLLIN, 0}, {socket, events, 0}};
            const int count = ::poll(fds, socket >= 0 ? 2 : 1, remaining_ms(until));
            if (count < 0 && errno == EINTR) continue;
            if (count <= 0 || (fds[0].revents & POLLIN)) return false;
            return socket >= 0 && fds[1].revents != 0;
        }
    }

    void close() {
        if (conn) PQfinish(conn);
        conn = nullptr;
        listening = false;
    }

    void lost(const std::string& why) {
        close();
        if (!lost_logged)
            say("listening on " + describe_target(target) + " for " + channel + " stopped (" + why +
                "); trying again with backoff, polling meanwhile");
        lost_logged = true;
        retry_at = Clock::now() + backoff;
        backoff = std::min(backoff * 2, kLastRetry);
    }

    // lost(), for a connect that failed.
    bool failed(const std::string& why) {
        lost(why);
        return false;
    }

    [[nodiscard]] std::string reason() const {
        const std::string message = conn ? trim(PQerrorMessage(conn)) : "out of memory";
        return message.empty() ? "no reason given" : message;
    }

    // A new session, listening; false (and a retry scheduled) when it cannot be made.
    bool connect() {
        // Keywords after `dbname` override the URI's; keepalives notice a silently cut network.
        const char* keywords[] = {"dbname",
                                  "fallback_application_name",
                                  "keepalives",
                                  "keepalives_idle",
                                  "keepalives_interval",
                                  "keepalives_count",
                                  nullptr};
        const char* values[] = {target.c_str(), "seke-listener", "1", "10", "5", "3", nullptr};
        conn = PQconnectStartParams(keywords, values, 1);
        if (!conn || PQstatus(conn) == CONNECTION_BAD) return failed("cannot connect: " + reason());
        const auto until = Clock::now() + kConnectLimit;
        for (PostgresPollingStatusType status = PGRES_POLLING_WRITING;;) {
            if (status == PGRES_POLLING_OK) break;
            if (status == PGRES_POLLING_FAILED) return failed("cannot connect: " + reason());
            const short events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            if (!ready(PQsocket(conn), events, until)) {
                if (interrupted()) {
                    close();
                    return false;
                }
                return failed("no answer within 5 s");
            }
            status = PQconnectPoll(conn);
        }
        PQsetNoticeProcessor(
            conn, [](void*, const char*) {}, nullptr);
        PGresult* result = PQexec(conn, ("LISTEN \"" + channel + "\"").c_str());
        const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
        PQclear(result);
        if (!ok) return failed("LISTEN refused: " + reason());
        if (PQsetnonblocking(conn, 1) != 0) return failed("cannot read without blocking");
        if (lost_logged) say("listening on " + describe_target(target) + " for " + channel + " again");
        lost_logged = false;
        backoff = kFirstRetry;
        listening = true;
        return true;
    }

    // Takes every notification the session has read; true when there was one.
    bool drain() {
        bool heard = false;
        while (PGnotify* note = PQnotifies(conn)) {
            heard = true;
            PQfreemem(note);
        }
        return heard;
    }

    bool wait(std::chrono::milliseconds timeout) {
        const auto until = Clock::now() + timeout;
        while (!interrupted()) {
            if (!conn) {
                if (Clock::now() < retry_at) {
                    if (!ready(-1, 0, std::min(retry_at, until)) && Clock::now() >= until) return false;
                    continue;
                }
                if (connect()) return true;  // a new session: what was sent before it is unheard
                if (Clock::now() >= until) return false;
                continue;
            }
            if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
                lost(reason());
                continue;
            }
            if (drain()) return true;
            if (!ready(PQsocket(conn), POLLIN, until) && (Clock::now() >= until || interrupted())) return false;
        }
        return false;
    }
};

Listener::Listener(std::string target, std::string channel, Log log) : impl_(std::make_unique<Impl>()) {
    impl_->target = std::move(target);
    impl_->channel = std::move(channel);
    impl_->log = std::move(log);
    impl_->wakeup = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Listener::~Listener() {
    impl_->close();
    if (impl_->wakeup >= 0) ::close(impl_->wakeup);
}

bool Listener::wait(std::chrono::milliseconds timeout) {
    return impl_->wait(timeout);
}

void Listener::interrupt() {
    if (impl_->wakeup < 0) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(impl_->wakeup, &one, sizeof one);
}

bool Listener::listening() const {
    return impl_->listening;
}

}  // namespace seke::sql
