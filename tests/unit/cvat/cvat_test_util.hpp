#pragma once
// A CVAT task in the fake server whose frames already carry seke's shapes, with the FEID
// records and shape rows the REST worker would have stored: the starting point of a review.
#include <memory>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "connectors/cvat_client.hpp"
#include "plugin/cvat/ids.hpp"
#include "plugin/cvat/spec.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/records/store.hpp"
#include "tests/support/fake_cvat.hpp"
#include "tests/support/test_support.hpp"

BOOST_TEST_DONT_PRINT_LOG_VALUE(seke::errc)

namespace seke::test {

inline cvat::FunctionSpec default_spec() {
    auto spec = cvat::make_function_spec({}, test_knowledge());
    BOOST_REQUIRE(spec);
    return *spec;
}

struct ReviewedTaskFixture {
    TempDir dir;
    FakeCvat fake;
    std::unique_ptr<Store> store;
    cvat::FunctionSpec spec = default_spec();
    std::unique_ptr<CvatClient> client;
    long long task = -1, job = -1;
    std::vector<long long> shape_ids;  // one per frame, frame order
    std::vector<std::string> face_ids;

    ReviewedTaskFixture() {
        auto opened = Store::open((dir / "seke.db").string());
        BOOST_REQUIRE(opened);
        store = std::move(*opened);
        task = fake.add_task("faces", cvat::project_labels_json(spec), {"f0", "f1", "f2", "f3"}, 128, 128);
        job = fake.add_job(task, 0, 3);
        CvatSettings settings;
        settings.url = fake.url();
        settings.access_token = "pat-secret";
        settings.timeout_s = 5;
        client = std::make_unique<CvatClient>(settings);
    }

    // seke's face on `frame`: labeled, stored, written to CVAT and recorded.
    long long seed_frame(long long frame, const std::string& expression = "happy") {
        auto labels = client->labels_of_task(task);
        BOOST_REQUIRE(labels);
        auto binding = cvat::bind_task_labels(spec, test_knowledge(), nlohmann::json(*labels));
        BOOST_REQUIRE(binding);
        FaceResult result;
        result.ok = true;
        result.labels.expression = expression;
        result.labels.valence = 0.5;
        result.labels.arousal = 0.2;
        result.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
        result.descriptions.expression = "cheeks raised";
        result.uncertainty.overall = 0.2;
        std::string item = cvat::frame_item_id(task, frame);
        Box box{10, 10, 50, 50};
        FeidInput input;
        input.id = item;
        input.image = "cvat-frame";
        input.face = box;
        input.result = &result;
        input.model_version = "v1";
        ItemOutcome outcome;
        outcome.item.id = item;
        outcome.item.image = "cvat-frame";
        outcome.item.status = ItemStatus::done;
        outcome.faces.push_back(face_row(test_knowledge(), input, item, 0));
        BOOST_REQUIRE(store->save_outcomes({outcome}));

        cvat::LabeledFace face{box, result.labels, 0.8};
        nlohmann::json shape = cvat::rest_shape(spec, *binding, face, frame, 128, 128, "v1");
        auto created = client->create_job_annotations(job, {{"shapes", nlohmann::json::array({shape})}});
        BOOST_REQUIRE(created);
        BOOST_REQUIRE(created->shapes.size() == 1u);
        long long id = created->shapes[0].id;
        CvatShapeRow row{cvat::store_url(fake.url()),
                         task,
                         job,
                         frame,
                         id,
                         item,
                         item,
                         nlohmann::json{{"points", shape["points"]}, {"attributes", shape["attributes"]}}.dump(),
                         ""};
        BOOST_REQUIRE(store->save_cvat_shapes({row}));
        shape_ids.push_back(id);
        face_ids.push_back(item);
        return id;
    }

    nlohmann::json record(const std::string& face_id) {
        auto row = store->face(face_id);
        BOOST_REQUIRE(row && row->has_value());
        return nlohmann::json::parse((*row)->record_json);
    }
};

}  // namespace seke::test
