#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "tests/support/test_support.hpp"
#include "verify/expert.hpp"

using namespace seke;
using seke::test::test_knowledge;
namespace tt = boost::test_tools;
using Codes = std::vector<std::string>;

namespace {

// OpenFace's mean 68-point face (align_dlib.py TEMPLATE, iBUG order), in units of its box.
constexpr std::array<std::array<double, 2>, 68> kMeanFace{{
    {0.0792396913815, 0.339223741112}, {0.0829219487236, 0.456955367943}, {0.0967927109165, 0.575648016728},
    {0.122141515615, 0.691921601066},  {0.168687863544, 0.800341263616},  {0.239789390707, 0.895732504778},
    {0.325662452515, 0.977068762493},  {0.422318282013, 1.04329000149},   {0.531777802068, 1.06080371126},
    {0.641296298053, 1.03981924107},   {0.738105872266, 0.972268833998},  {0.824444363295, 0.889624082279},
    {0.894792677532, 0.792494155836},  {0.939395486253, 0.681546643421},  {0.96111933829, 0.562238253072},
    {0.970579841181, 0.441758925744},  {0.971193274221, 0.322118743967},  {0.163846223133, 0.249151738053},
    {0.21780354657, 0.204255863861},   {0.291299351124, 0.192367318323},  {0.367460241458, 0.203582210627},
    {0.4392945113, 0.233135599851},    {0.586445962425, 0.228141644834},  {0.660152671635, 0.195923841854},
    {0.737466449096, 0.182360984545},  {0.813236546239, 0.192828009114},  {0.8707571886, 0.235293377042},
    {0.51534533827, 0.31863546193},    {0.516221448289, 0.396200446263},  {0.517118861835, 0.473797687758},
    {0.51816430343, 0.553157797772},   {0.433701156035, 0.604054457668},  {0.475501237769, 0.62076344024},
    {0.520712933176, 0.634268222208},  {0.565874114041, 0.618796581487},  {0.607054002672, 0.60157671656},
    {0.252418718401, 0.331052263829},  {0.298663015648, 0.302646354002},  {0.355749724218, 0.303020650651},
    {0.403718978315, 0.33867711083},   {0.352507175597, 0.349987615384},  {0.296791759886, 0.350478978225},
    {0.631326076346, 0.334136672344},  {0.679073381078, 0.29645404267},   {0.73597236153, 0.294721285802},
    {0.782865376271, 0.321305281656},  {0.740312274764, 0.341849376713},  {0.68499850091, 0.343734332172},
    {0.353167761422, 0.746189164237},  {0.414587777921, 0.719053835073},  {0.477677654595, 0.706835892494},
    {0.522732900812, 0.717092275768},  {0.569832064287, 0.705414478982},  {0.635195811927, 0.71565572516},
    {0.69951672331, 0.739419187253},   {0.639447159575, 0.805236879972},  {0.576410514055, 0.835436670169},
    {0.525398405766, 0.841706377792},  {0.47641545769, 0.837505914975},   {0.41379548902, 0.810045601727},
    {0.380084785646, 0.749979603086},  {0.477955996282, 0.74513234612},   {0.523389793327, 0.748924302636},
    {0.571057789237, 0.74332894691},   {0.672409137852, 0.744177032192},  {0.572539621444, 0.776609286626},
    {0.5240106503, 0.783370783245},    {0.477561227414, 0.778476346951},
}};

// A face as 68 points in template units; the expressions below move them.
struct Face {
    std::array<std::array<double, 2>, 68> p = kMeanFace;

    // The distance between the eye centres, the unit the expert measures in.
    [[nodiscard]] double iod() const {
        auto centre = [&](int outer, int inner) {
            return std::array<double, 2>{(p[outer][0] + p[inner][0]) / 2, (p[outer][1] + p[inner][1]) / 2};
        };
        auto r = centre(36, 39);
        auto l = centre(45, 42);
        return std::hypot(l[0] - r[0], l[1] - r[1]);
    }
    void move(std::initializer_list<int> points, double dx_iod, double dy_iod) {
        const double unit = iod();
        for (int i : points) {
            p[i][0] += dx_iod * unit;
            p[i][1] += dy_iod * unit;
        }
    }
};

// The mean face with its lips closed: the mean of many faces has them slightly apart.
Face neutral_face() {
    Face f;
    for (auto [upper, lower] : {std::pair{61, 67}, {62, 66}, {63, 65}}) {
        const double mid = (f.p[upper][1] + f.p[lower][1]) / 2;
        f.p[upper][1] = mid;
        f.p[lower][1] = mid;
    }
    return f;
}

// Jaw dropped: the lower lip, the chin and the lower jaw come down by `gap` IODs, the corners by half.
Face open_mouth(double gap = 0.35) {
    Face f = neutral_face();
    f.move({65, 66, 67, 55, 56, 57, 58, 59, 5, 6, 7, 8, 9, 10, 11}, 0, gap);
    f.move({48, 54, 60, 64}, 0, gap / 2);
    return f;
}

// A smile: the lip corners pulled up and out.
Face smile() {
    Face f = neutral_face();
    f.move({48, 60}, -0.05, -0.1);
    f.move({54, 64}, 0.05, -0.1);
    return f;
}

// Template units to pixels, optionally rolled (radians) and mirrored, as an image would give them.
Point3 to_image(const std::array<double, 2>& q, double roll, bool mirror) {
    const double x = (mirror ? 1 - q[0] : q[0]) - 0.5;
    const double y = q[1] - 0.6;
    return {320 + 300 * (x * std::cos(roll) - y * std::sin(roll)),
            240 + 300 * (x * std::sin(roll) + y * std::cos(roll)), 0};
}

std::vector<Point3> landmarks_of(const Face& f, double roll = 0, bool mirror = false) {
    std::vector<Point3> out;
    for (const auto& q : f.p) out.push_back(to_image(q, roll, mirror));
    return out;
}

// A 468-point mesh whose points the expert reads sit where the 68 scheme's matching points are;
// the rest of the mesh sits on the nose, a finite point the expert does not read.
std::vector<Point3> mesh_of(const Face& f) {
    auto mean_of = [&](int a, int b) {
        return std::array<double, 2>{(f.p[a][0] + f.p[b][0]) / 2, (f.p[a][1] + f.p[b][1]) / 2};
    };
    std::vector<Point3> out(468, to_image(f.p[30], 0, false));
    const std::vector<std::pair<int, int>> same{{33, 36},  {133, 39}, {362, 42}, {263, 45}, {107, 21}, {70, 17},
                                                {336, 22}, {300, 26}, {2, 33},   {0, 51},   {17, 57},  {13, 62},
                                                {14, 66},  {61, 48},  {291, 54}, {152, 8}};
    for (auto [mesh, point] : same) out[static_cast<std::size_t>(mesh)] = to_image(f.p[point], 0, false);
    out[159] = to_image(mean_of(37, 38), 0, false);
    out[145] = to_image(mean_of(41, 40), 0, false);
    out[386] = to_image(mean_of(43, 44), 0, false);
    out[374] = to_image(mean_of(47, 46), 0, false);
    return out;
}

// Both networks certain of one class, given in each network's own class name.
ExpertReading reading_of(std::vector<Point3> landmarks, std::string_view face_api_class = "happy",
                         std::string_view human_class = "happy") {
    ExpertReading r;
    for (std::size_t i = 0; i < 7; ++i) {
        r.face_api_expression[i] = kFaceApiExpressionClasses[i] == face_api_class ? 1 : 0;
        r.human_emotion[i] = kHumanEmotionClasses[i] == human_class ? 1 : 0;
    }
    r.landmarks68 = std::move(landmarks);
    r.face_score = 0.99;
    return r;
}

const AuJudgement* judgement(const ExpertOpinion& o, const std::string& code) {
    for (const auto& j : o.action_units)
        if (j.code == code) return &j;
    return nullptr;
}

bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_expert_geometry)

BOOST_AUTO_TEST_CASE(neutral_face_shows_no_au_and_reports_what_it_cannot_see) {
    for (bool mesh : {false, true}) {
        BOOST_TEST_CONTEXT((mesh ? "mesh" : "68 landmarks")) {
            ExpertReading r = reading_of(landmarks_of(neutral_face()), "neutral", "neutral");
            if (mesh) r.mesh = mesh_of(neutral_face());
            const ExpertOpinion o = interpret_expert(r, test_knowledge());
            BOOST_REQUIRE(!o.abstained);
            BOOST_REQUIRE(o.labels.action_units.has_value());
            BOOST_TEST(o.labels.action_units->empty(), "present: " << o.descriptions.au);
            BOOST_TEST(o.au_unknown == (Codes{"AU6", "AU9", "AU14"}), tt::per_element());
            BOOST_TEST(o.action_units.size() == test_knowledge().action_units.size() - 3);
            for (const auto& j : o.action_units) {
                BOOST_TEST(!has(o.au_unknown, j.code));
                BOOST_TEST(j.margin == std::abs(j.score - 0.5) * 2, tt::tolerance(1e-12));
            }
            BOOST_TEST(judgement(o, "AU25")->reliable);
            BOOST_TEST(!judgement(o, "AU1")->reliable);
            BOOST_TEST(contains(o.descriptions.au, mesh ? "468-point mesh" : "68 landmarks"));
            BOOST_TEST(contains(o.descriptions.au, "AU6, AU9, AU14"));
        }
    }
}

BOOST_AUTO_TEST_CASE(open_mouth_gives_lips_part_and_jaw_drop) {
    const ExpertOpinion closed =
        interpret_expert(reading_of(landmarks_of(neutral_face()), "surprised", "surprise"), test_knowledge());
    for (bool mesh : {false, true}) {
        BOOST_TEST_CONTEXT((mesh ? "mesh" : "68 landmarks")) {
            ExpertReading r = reading_of(landmarks_of(open_mouth()), "surprised", "surprise");
            if (mesh) r.mesh = mesh_of(open_mouth());
            const ExpertOpinion o = interpret_expert(r, test_knowledge());
            BOOST_REQUIRE(!o.abstained);
            BOOST_TEST(*o.labels.action_units == (Codes{"AU25", "AU26"}), tt::per_element());
            BOOST_TEST(*o.labels.expression == "surprise");
            // An open jaw raises the derived arousal above the class centroid's.
            BOOST_TEST(*o.labels.arousal > *closed.labels.arousal);
        }
    }
    // Lips a little apart: AU25 without AU26.
    const ExpertOpinion parted = interpret_expert(reading_of(landmarks_of(open_mouth(0.14))), test_knowledge());
    BOOST_TEST(*parted.labels.action_units == (Codes{"AU25"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(raised_lip_corners_give_au12_and_raise_valence) {
    const ExpertOpinion neutral = interpret_expert(reading_of(landmarks_of(neutral_face())), test_knowledge());
    for (bool mesh : {false, true}) {
        BOOST_TEST_CONTEXT((mesh ? "mesh" : "68 landmarks")) {
            ExpertReading r = reading_of(landmarks_of(smile()));
            if (mesh) r.mesh = mesh_of(smile());
            const ExpertOpinion o = interpret_expert(r, test_knowledge());
            BOOST_TEST(*o.labels.action_units == (Codes{"AU12"}), tt::per_element());
            BOOST_TEST(judgement(o, "AU12")->reliable);
            BOOST_TEST(*o.labels.valence > *neutral.labels.valence);
            BOOST_TEST(contains(o.descriptions.va, "AU12"));
        }
    }
}

BOOST_AUTO_TEST_CASE(scale_roll_and_mirror_do_not_change_the_judgement) {
    const ExpertOpinion upright = interpret_expert(reading_of(landmarks_of(smile())), test_knowledge());
    for (double roll : {-0.4, 0.25}) {
        for (bool mirror : {false, true}) {
            const ExpertOpinion turned =
                interpret_expert(reading_of(landmarks_of(smile(), roll, mirror)), test_knowledge());
            BOOST_TEST_CONTEXT("roll " << roll << " mirror " << mirror) {
                BOOST_REQUIRE(upright.action_units.size() == turned.action_units.size());
                for (std::size_t i = 0; i < upright.action_units.size(); ++i)
                    BOOST_TEST(turned.action_units[i].score == upright.action_units[i].score, tt::tolerance(1e-9));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(only_the_knowledge_aus_are_judged) {
    Knowledge k = test_knowledge();
    k.action_units = {{"AU25", "Lips part"}, {"AU6", "Cheek raiser"}, {"AU43", "Eyes closed"}};
    const ExpertOpinion o = interpret_expert(reading_of(landmarks_of(open_mouth())), k);
    BOOST_REQUIRE(o.action_units.size() == 1u);
    BOOST_TEST(o.action_units[0].code == "AU25");
    BOOST_TEST(*o.labels.action_units == (Codes{"AU25"}), tt::per_element());
    BOOST_TEST(o.au_unknown == (Codes{"AU6", "AU43"}), tt::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_expert_expression)

BOOST_AUTO_TEST_CASE(classes_map_by_name_and_the_mean_of_the_two_is_ranked) {
    ExpertReading r = reading_of(landmarks_of(neutral_face()));
    // face-api: fearful 0.6, surprised 0.4; Human: fear 0.2, surprise 0.8.
    r.face_api_expression = {0, 0, 0, 0, 0.6, 0, 0.4};
    r.human_emotion = {0, 0, 0.2, 0, 0, 0.8, 0};
    const ExpertOpinion o = interpret_expert(r, test_knowledge());
    BOOST_REQUIRE(!o.abstained);
    BOOST_TEST(*o.labels.expression == "surprise");
    BOOST_REQUIRE(o.expression_probabilities.size() == 7u);  // every covered class, contempt not among them
    BOOST_TEST(o.expression_probabilities[0].first == "surprise");
    BOOST_TEST(o.expression_probabilities[0].second == 0.6, tt::tolerance(1e-12));
    BOOST_TEST(o.expression_probabilities[1].first == "fear");
    BOOST_TEST(o.expression_probabilities[1].second == 0.4, tt::tolerance(1e-12));
    BOOST_TEST(o.face_api_probabilities[0].first == "fear");
    BOOST_TEST(o.human_probabilities[0].first == "surprise");
    // JS divergence of (0.6, 0.4) and (0.2, 0.8), in bits, by hand.
    auto kl = [](double p, double q, double m1, double m2) { return p * std::log2(p / m1) + q * std::log2(q / m2); };
    const double js = 0.5 * kl(0.6, 0.4, 0.4, 0.6) + 0.5 * kl(0.2, 0.8, 0.4, 0.6);
    BOOST_TEST(o.classifier_agreement == 1 - js, tt::tolerance(1e-12));
    BOOST_TEST(o.not_covered == (Codes{"contempt"}), tt::per_element());
    BOOST_TEST(contains(o.descriptions.expression, "no vision LLM"));
    BOOST_TEST(contains(o.descriptions.expression, "classifiers differ: face-api fear 0.60, Human surprise 0.80"));
}

BOOST_AUTO_TEST_CASE(agreement_is_one_for_equal_outputs_and_zero_for_disjoint_ones) {
    const ExpertOpinion same = interpret_expert(reading_of(landmarks_of(neutral_face())), test_knowledge());
    BOOST_TEST(same.classifier_agreement == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(same.descriptions.expression ==
               "Built-in face expert (no vision LLM): happy (1.00; both classifiers agree).");
    const ExpertOpinion apart =
        interpret_expert(reading_of(landmarks_of(neutral_face()), "happy", "sad"), test_knowledge());
    BOOST_TEST(apart.classifier_agreement == 0.0, tt::tolerance(1e-12));
    BOOST_TEST(apart.uncertainty.expression > same.uncertainty.expression);
    BOOST_TEST(apart.uncertainty.va > same.uncertainty.va);
}

BOOST_AUTO_TEST_CASE(contempt_is_never_the_label_even_when_listed_first) {
    Knowledge k = test_knowledge();
    std::rotate(k.expressions.rbegin(), k.expressions.rbegin() + 1, k.expressions.rend());  // contempt first
    BOOST_REQUIRE(k.expressions.front().name == "contempt");
    ExpertReading r = reading_of(landmarks_of(neutral_face()));
    r.face_api_expression.fill(1.0 / 7);  // a tie everywhere: knowledge order breaks it
    r.human_emotion.fill(1.0 / 7);
    const ExpertOpinion o = interpret_expert(r, k);
    BOOST_REQUIRE(!o.abstained);
    BOOST_TEST(*o.labels.expression == "neutral");
    for (const auto& [name, p] : o.expression_probabilities) BOOST_TEST(name != "contempt");
    BOOST_TEST(o.not_covered == (Codes{"contempt"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(other_names_map_through_expert_classes) {
    Knowledge k = test_knowledge();
    k.expressions[1].name = "Happiness";
    k.expressions[1].expert_classes = {"happy"};
    // A class that merges two of the networks' classes.
    k.expressions[3].name = "Startle";
    k.expressions[3].expert_classes = {"surprise", "fear"};
    k.expressions[4].expert_classes.clear();
    ExpertReading r = reading_of(landmarks_of(neutral_face()));
    const ExpertOpinion o = interpret_expert(r, k);
    BOOST_TEST(*o.labels.expression == "Happiness");
    r.face_api_expression = {0, 0.3, 0, 0, 0.35, 0, 0.35};
    r.human_emotion = {0, 0, 0.35, 0.3, 0, 0.35, 0};
    const ExpertOpinion merged = interpret_expert(r, k);
    BOOST_TEST(*merged.labels.expression == "Startle");
    BOOST_TEST(merged.expression_probabilities[0].second == 0.7, tt::tolerance(1e-12));
    BOOST_TEST(has(merged.not_covered, "fear"));
}

BOOST_AUTO_TEST_CASE(va_is_the_probability_weighted_centroid) {
    ExpertReading r = reading_of(landmarks_of(neutral_face()));
    r.face_api_expression = {0, 0.5, 0.5, 0, 0, 0, 0};  // happy, sad
    r.human_emotion = {0, 0, 0, 0.5, 0.5, 0, 0};
    const Knowledge& k = test_knowledge();
    const ExpertOpinion o = interpret_expert(r, k);
    const auto happy = *k.find_expression("happy")->va_centroid;
    const auto sad = *k.find_expression("sad")->va_centroid;
    // No geometry AU goes past its threshold on a neutral face, so nothing nudges the centroid.
    BOOST_TEST(*o.labels.valence == 0.5 * happy.first + 0.5 * sad.first, tt::tolerance(1e-12));
    BOOST_TEST(*o.labels.arousal == 0.5 * happy.second + 0.5 * sad.second, tt::tolerance(1e-12));
    BOOST_TEST(o.va_derived);
    BOOST_TEST(o.uncertainty.va > 0.0);
    BOOST_TEST(o.uncertainty.va <= 1.0);
    BOOST_TEST(contains(o.descriptions.va, "no vision LLM"));

    // Without a centroid the expression's prior region's centre stands in.
    Knowledge bare = k;
    for (auto& e : bare.expressions) e.va_centroid.reset();
    const ExpertOpinion from_regions = interpret_expert(r, bare);
    BOOST_TEST(*from_regions.labels.valence == *o.labels.valence, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_expert_abstention)

BOOST_AUTO_TEST_CASE(abstains_below_the_face_score) {
    ExpertReading r = reading_of(landmarks_of(smile()));
    r.face_score = 0.08;
    const ExpertOpinion o = interpret_expert(r, test_knowledge());
    BOOST_TEST(o.abstained);
    BOOST_TEST(o.abstain_reason == "face score 0.08 below 0.50: not a face");
    BOOST_TEST(o.labels.empty());
    ExpertSettings strict;
    strict.min_face_score = 0.995;
    r.face_score = 0.99;
    BOOST_TEST(interpret_expert(r, test_knowledge(), strict).abstained);
    BOOST_TEST(!interpret_expert(r, test_knowledge()).abstained);
}

BOOST_AUTO_TEST_CASE(unusable_readings_abstain_without_crashing) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    auto reason = [](const ExpertReading& r) {
        const ExpertOpinion o = interpret_expert(r, test_knowledge());
        BOOST_TEST(o.labels.empty());
        BOOST_TEST(o.action_units.empty());
        return o.abstained ? o.abstain_reason : std::string("(not abstained)");
    };
    ExpertReading nan_probability = reading_of(landmarks_of(neutral_face()));
    nan_probability.face_api_expression[1] = nan;
    BOOST_TEST(contains(reason(nan_probability), "face-api probabilities"));
    ExpertReading not_softmax = reading_of(landmarks_of(neutral_face()));
    not_softmax.human_emotion.fill(0);
    BOOST_TEST(contains(reason(not_softmax), "Human probabilities sum to 0.00"));
    ExpertReading nan_score = reading_of(landmarks_of(neutral_face()));
    nan_score.face_score = nan;
    BOOST_TEST(contains(reason(nan_score), "face score"));

    BOOST_TEST(contains(reason(reading_of({})), "no usable face geometry"));
    std::vector<Point3> broken = landmarks_of(neutral_face());
    broken[30].y = inf;
    BOOST_TEST(contains(reason(reading_of(broken)), "no usable face geometry"));
    BOOST_TEST(contains(reason(reading_of(std::vector<Point3>(100))), "no usable face geometry"));
    BOOST_TEST(contains(reason(reading_of(std::vector<Point3>(68))), "no usable face geometry"));  // all at 0
    ExpertReading scrambled = reading_of(landmarks_of(neutral_face()));
    std::reverse(scrambled.landmarks68.begin(), scrambled.landmarks68.end());
    BOOST_TEST(contains(reason(scrambled), "no usable face geometry"));
}

BOOST_AUTO_TEST_CASE(a_broken_mesh_falls_back_to_the_68_points) {
    ExpertReading r = reading_of(landmarks_of(open_mouth()));
    r.mesh = mesh_of(open_mouth());
    r.mesh[200].x = std::numeric_limits<double>::quiet_NaN();
    const ExpertOpinion o = interpret_expert(r, test_knowledge());
    BOOST_REQUIRE(!o.abstained);
    BOOST_TEST(contains(o.descriptions.au, "68 landmarks"));
    BOOST_TEST(*o.labels.action_units == (Codes{"AU25", "AU26"}), tt::per_element());
    r.mesh.resize(300);  // neither 468 nor 478 points: not a mesh
    BOOST_TEST(contains(interpret_expert(r, test_knowledge()).descriptions.au, "68 landmarks"));
}

BOOST_AUTO_TEST_CASE(no_covered_expression_abstains) {
    Knowledge k = test_knowledge();
    for (auto& e : k.expressions) e.expert_classes.clear();
    const ExpertOpinion o = interpret_expert(reading_of(landmarks_of(neutral_face())), k);
    BOOST_TEST(o.abstained);
    BOOST_TEST(o.labels.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_expert_provenance)

BOOST_AUTO_TEST_CASE(expert_provenance_round_trips_and_is_no_fact) {
    BOOST_TEST(provenance_name(Provenance::expert) == "expert");
    BOOST_TEST((parse_provenance("expert") == Provenance::expert));
    BOOST_TEST(!is_fact(Provenance::expert));
    BOOST_TEST(!is_fact(Provenance::model));
    BOOST_TEST(is_fact(Provenance::source));
    BOOST_TEST(is_fact(Provenance::human));
}

BOOST_AUTO_TEST_SUITE_END()
