#pragma once
// What the store's files share beneath the Store class: the SQL that differs between the engines.
#include <string>

#include "plugin/sql/connection.hpp"

namespace seke {

// The store's SQL that differs between the engines, written once when the store opens.
struct DialectQueries {
    explicit DialectQueries(const sql::Dialect& d) {
        const std::string order(d.insertion_order());
        newest_document =
            "SELECT kind, key, body, created_at FROM documents WHERE kind=? "
            "ORDER BY created_at DESC, " +
            order + " DESC LIMIT 1";
        documents_of_kind =
            "SELECT kind, key, body, created_at FROM documents WHERE kind=? "
            "ORDER BY created_at DESC, " +
            order + " DESC LIMIT ?";
        task_predictions =
            "SELECT model_version, status, prediction, error, updated_at FROM task_predictions "
            "WHERE project=? AND task_id=? AND (?='' OR model_version=?) ORDER BY updated_at DESC, " +
            order + " DESC";
        auto number_of = [&](std::string_view path) { return "coalesce(" + d.json_number("record", path) + ", 0)"; };
        auto sum = [&](std::string_view path) { return "coalesce(sum(" + d.json_number("record", path) + "), 0)"; };
        cost = "SELECT " + sum("cost.requests") + ", " + sum("cost.cached_requests") + ", " + sum("cost.samples") +
               ", " + sum("cost.prompt_tokens") + ", " + sum("cost.completion_tokens") + ", " +
               sum("cost.cached_prompt_tokens") + " FROM faces";
        // One face's cost per row, newest first: a run's plan reads its model's history.
        face_costs = "SELECT " + number_of("cost.requests") + ", " + number_of("cost.cached_requests") + ", " +
                     number_of("cost.samples") + ", " + number_of("cost.prompt_tokens") + ", " +
                     number_of("cost.cached_prompt_tokens") + ", " + number_of("cost.completion_tokens") +
                     " FROM faces WHERE model_version=? ORDER BY updated_at DESC, id DESC LIMIT ?";
        histogram = "SELECT " + d.floor_integer("overall * ?") + ", count(*) FROM faces GROUP BY 1";
        auto text = [&](std::string_view path, std::string_view otherwise) {
            return "coalesce(" + d.json_text("record", path) + ", '" + std::string(otherwise) + "')";
        };
        // The few numbers ranking needs, read without parsing whole records in C++.
        queue = "SELECT id, item_id, overall, " + number_of("uncertainty.expression") + ", " +
                number_of("uncertainty.va") + ", " + number_of("uncertainty.au") + ", " +
                text("provenance.expression", "model") + ", " + text("provenance.va", "model") + ", " +
                text("provenance.au", "model") + ", " + text("phash", "") + ", " +
                number_of("uncertainty.consistency") + ", " + number_of("uncertainty.expert_disagreement") +
                " FROM faces WHERE status='auto' AND substr(item_id, 1, ?)=?";
        // Shared work: the database's clock decides every lease, whichever machine asks.
        const std::string now = d.now_ms();
        claim_job_items = "UPDATE job_items SET worker=?, lease_until=" + now +
                          " + ?, claims=claims+1 "
                          "WHERE job=? AND item_id IN (SELECT item_id FROM job_items WHERE job=? AND state='open' "
                          "AND lease_until < " +
                          now + " ORDER BY item_id LIMIT ?" + std::string(d.skip_locked()) + ") RETURNING item_id";
        renew_leases = "UPDATE job_items SET lease_until=" + now + " + ? WHERE job=? AND worker=? AND state='open'";
        job_counts =
            "SELECT count(*), coalesce(sum(CASE WHEN state='done' THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN state='open' AND lease_until >= " +
            now + " THEN 1 ELSE 0 END), 0) FROM job_items WHERE job=?";
        claim = "INSERT INTO claims(key, owner, until_ms) VALUES(?, ?, " + now +
                " + ?) ON CONFLICT(key) DO UPDATE SET owner=excluded.owner, until_ms=excluded.until_ms "
                "WHERE claims.until_ms < " +
                now +
                " OR claims.owner=excluded.owner "
                "RETURNING owner";
    }
    std::string newest_document, documents_of_kind, task_predictions, cost, face_costs, histogram, queue;
    std::string claim_job_items, renew_leases, job_counts, claim;
};

}  // namespace seke
