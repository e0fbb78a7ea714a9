// The store's shared work: label jobs' items claimed with leases, and claims on work in flight.
// The database's clock decides every lease and claim.
#include <unistd.h>

#include <mutex>
#include <random>

#include "plugin/records/store.hpp"
#include "plugin/records/store_sql.hpp"

namespace seke {

using sql::Statement;
using sql::Step;

std::string claim_owner_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    std::random_device random;
    return std::string(host[0] ? host : "host") + ":" + std::to_string(::getpid()) + ":" +
           std::to_string(random() % 1000000);
}

Result<bool> Store::add_job_items(const std::string& job, const std::vector<std::string>& item_ids) {
    // Many rows per statement: a million items is thousands of round trips, not a million.
    constexpr std::size_t kRowsPerStatement = 200;
    constexpr std::size_t kRowsPerTransaction = 5000;
    auto insert_sql = [](std::size_t rows) {
        std::string sql = "INSERT INTO job_items(job, item_id) VALUES ";
        for (std::size_t i = 0; i < rows; ++i) sql += i ? ",(?,?)" : "(?,?)";
        // An item that failed before is open again; one done or being labeled is left alone.
        sql +=
            " ON CONFLICT(job, item_id) DO UPDATE SET state='open', lease_until=0 WHERE job_items.state='done' "
            "AND EXISTS (SELECT 1 FROM items WHERE items.id=excluded.item_id AND items.status='failed')";
        return sql;
    };
    const std::string full = insert_sql(kRowsPerStatement);
    std::lock_guard lock(db_mutex_);
    for (std::size_t begin = 0; begin < item_ids.size(); begin += kRowsPerTransaction) {
        const std::size_t end = std::min(item_ids.size(), begin + kRowsPerTransaction);
        auto added = sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
            for (std::size_t first = begin; first < end; first += kRowsPerStatement) {
                const std::size_t rows = std::min(kRowsPerStatement, end - first);
                Statement s(*db_, rows == kRowsPerStatement ? full : insert_sql(rows));
                if (!s.ok()) return "cannot add items to job " + job;
                for (std::size_t i = 0; i < rows; ++i)
                    s.bind(static_cast<int>(2 * i + 1), job).bind(static_cast<int>(2 * i + 2), item_ids[first + i]);
                if (s.step() != Step::done) return "cannot add items to job " + job;
            }
            return std::nullopt;
        });
        if (!added) return added.error();
    }
    return true;
}

Result<std::vector<std::string>> Store::claim_job_items(const JobLease& lease, int count, int lease_ms) {
    std::vector<std::string> claimed;
    std::lock_guard lock(db_mutex_);
    auto done = sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        claimed.clear();  // a retried transaction starts over
        Statement s(*db_, queries_->claim_job_items);
        if (!s.ok()) return "cannot claim items of job " + lease.job;
        s.bind(1, lease.worker)
            .bind(2, std::int64_t{lease_ms})
            .bind(3, lease.job)
            .bind(4, lease.job)
            .bind(5, std::int64_t{count});
        Step rc;
        while ((rc = s.step()) == Step::row) claimed.push_back(s.text(0));
        if (rc != Step::done) return "cannot claim items of job " + lease.job;
        return std::nullopt;
    });
    if (!done) return done.error();
    return claimed;
}

Result<bool> Store::renew_leases(const JobLease& lease, int lease_ms) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, queries_->renew_leases);
    if (!s.ok()) return sql::database_error(*db_, "cannot renew leases");
    s.bind(1, std::int64_t{lease_ms}).bind(2, lease.job).bind(3, lease.worker);
    if (s.step() != Step::done) return sql::database_error(*db_, "cannot renew leases of job " + lease.job);
    return true;
}

Result<bool> Store::release_leases(const JobLease& lease) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "UPDATE job_items SET lease_until=0 WHERE job=? AND worker=? AND state='open'");
    if (!s.ok()) return sql::database_error(*db_, "cannot release leases");
    s.bind(1, lease.job).bind(2, lease.worker);
    if (s.step() != Step::done) return sql::database_error(*db_, "cannot release leases of job " + lease.job);
    return true;
}

Result<JobCounts> Store::job_counts(const std::string& job) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, queries_->job_counts);
    if (!s.ok()) return sql::database_error(*db_, "cannot count job items");
    s.bind(1, job);
    if (s.step() != Step::row) return sql::database_error(*db_, "cannot count items of job " + job);
    return JobCounts{s.integer(0), s.integer(1), s.integer(2)};
}

Result<bool> Store::claim(const std::string& key, const std::string& owner, int claim_ms) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_, queries_->claim);
    if (!s.ok()) return sql::database_error(*cache_db_, "cannot claim " + key);
    s.bind(1, key).bind(2, owner).bind(3, std::int64_t{claim_ms});
    const Step rc = s.step();
    if (rc == Step::error) return sql::database_error(*cache_db_, "cannot claim " + key);
    return rc == Step::row;  // a row comes back only when the claim is the owner's
}

void Store::release_claim(const std::string& key, const std::string& owner) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_, "DELETE FROM claims WHERE key=? AND owner=?");
    if (!s.ok()) return;
    s.bind(1, key).bind(2, owner);
    s.step();  // a claim left behind runs out by itself
}

}  // namespace seke
