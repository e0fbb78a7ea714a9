// The typed FEID record: records built the way `seke label`, a review and CVAT's sync build them
// are the bytes seke always wrote, read back and written again they are the same bytes, and the
// three export formats are byte for byte what they were. The literals below were written by the
// code before the record was typed. (The conversation questions are picked by std::hash of the
// id, so these bytes are libstdc++'s.)
#include <cmath>
#include <map>

#include <boost/test/unit_test.hpp>

#include "plugin/learning/review.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/records/store.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using nlohmann::ordered_json;

namespace {

const char* const kModel =
    R"j({"id":"img1_face2","image":"images/img1.jpg","face":{"x":10,"y":20,"w":30,"h":40},"labels":{)j"
    R"j("expression":"happy","valence":0.62,"arousal":0.31,"action_units":["AU6","AU12"]},"descripti)j"
    R"j(ons":{"expression":"Cheeks raised and lip corners pulled up.","va":"Pleasant and mildly acti)j"
    R"j(vated.","au":"AU6 and AU12 are active."},"provenance":{"expression":"model","va":"model","au)j"
    R"j(":"model"},"uncertainty":{"expression":0.1,"va":0.2,"au":0.3,"consistency":0.05,"overall":0.)j"
    R"j(15},"status":"auto","model_version":"qwen2.5-vl-7b/uamc-v3","cost":{"requests":2,"cached_req)j"
    R"j(uests":1,"samples":5,"malformed":1,"prompt_tokens":1834,"completion_tokens":212},"flags":[],)j"
    R"j("phash":"8f3c0a1b2c3d4e5f","conversations":[{"from":"human","value":"<image>\nHow would you )j"
    R"j(describe the emotion on this face in one word, and why?"},{"from":"gpt","value":"The facial )j"
    R"j(expression is happy. Cheeks raised and lip corners pulled up."},{"from":"human","value":"Rat)j"
    R"j(e this face on the circumplex model: valence and arousal from -1 to 1."},{"from":"gpt","valu)j"
    R"j(e":"Valence is 0.62 and arousal is 0.31. Pleasant and mildly activated."},{"from":"human","v)j"
    R"j(alue":"List the FACS action units you can observe."},{"from":"gpt","value":"Active action un)j"
    R"j(its: AU6 (Cheek raiser), AU12 (Lip corner puller). AU6 and AU12 are active."}]})j";

const char* const kWholeImage =
    R"j({"id":"img7","image":"https://example.org/img7.jpg","face":null,"labels":{"expression":"surp)j"
    R"j(rise","valence":0.1,"arousal":0.8,"action_units":[]},"descriptions":{"expression":"Brows rai)j"
    R"j(sed, jaw dropped.","va":"","au":""},"provenance":{"expression":"model","va":"model","au":"mo)j"
    R"j(del"},"uncertainty":{"expression":0.4,"va":0.25,"au":0.5,"consistency":0.3,"overall":null},")j"
    R"j(status":"auto","model_version":"qwen2.5-vl-7b/uamc-v3","cost":{"requests":3,"cached_requests)j"
    R"j(":0,"samples":9,"malformed":0,"prompt_tokens":2500,"completion_tokens":400},"flags":["no_fac)j"
    R"j(e_detected"],"conversations":[{"from":"human","value":"<image>\nClassify the facial expressi)j"
    R"j(on in this image."},{"from":"gpt","value":"The facial expression is surprise. Brows raised, )j"
    R"j(jaw dropped."},{"from":"human","value":"Give the valence-arousal values of this facial expre)j"
    R"j(ssion."},{"from":"gpt","value":"Valence is 0.10 and arousal is 0.80."},{"from":"human","valu)j"
    R"j(e":"Which facial action units are active on this face?"},{"from":"gpt","value":"No action un)j"
    R"j(its are clearly active."}]})j";

const char* const kKnownLabels =
    R"j({"id":"ck/s042","image":"ck/s042.png","face":{"x":0,"y":4,"w":96,"h":96},"labels":{"expressi)j"
    R"j(on":"sad","valence":-0.7,"arousal":-0.2,"action_units":["AU1","AU4","AU15"]},"descriptions":)j"
    R"j({"expression":"","va":"","au":"Inner brows raised and lowered, lip corners down."},"provenan)j"
    R"j(ce":{"expression":"source","va":"source","au":"model"},"uncertainty":{"expression":0.0,"va":)j"
    R"j(0.0,"au":0.35,"consistency":0.1,"overall":0.12},"status":"auto","model_version":"qwen2.5-vl-)j"
    R"j(7b/uamc-v3","cost":{"requests":1,"cached_requests":0,"samples":3,"malformed":0,"prompt_token)j"
    R"j(s":900,"completion_tokens":80},"flags":[],"phash":"00ff00ff00ff00ff","conversations":[{"from)j"
    R"j(":"human","value":"<image>\nWhat facial expression does this person show?"},{"from":"gpt","v)j"
    R"j(alue":"The facial expression is sad."},{"from":"human","value":"Rate this face on the circum)j"
    R"j(plex model: valence and arousal from -1 to 1."},{"from":"gpt","value":"Valence is -0.70 and )j"
    R"j(arousal is -0.20."},{"from":"human","value":"List the FACS action units you can observe."},{)j"
    R"j("from":"gpt","value":"Active action units: AU1 (Inner brow raiser), AU4 (Brow lowerer), AU15)j"
    R"j( (Lip corner depressor). Inner brows raised and lowered, lip corners down."}]})j";

const char* const kReviewed =
    R"j({"id":"img1_face2","image":"images/img1.jpg","face":{"x":10,"y":20,"w":30,"h":40},"labels":{)j"
    R"j("expression":"contempt","valence":-0.3,"arousal":0.31,"action_units":["AU6","AU12"]},"descri)j"
    R"j(ptions":{"expression":"One lip corner raised.","va":"","au":"AU6 and AU12 are active."},"pro)j"
    R"j(venance":{"expression":"human","va":"human","au":"human"},"uncertainty":{"expression":0.1,"v)j"
    R"j(a":0.2,"au":0.3,"consistency":0.05,"overall":0.15},"status":"corrected","model_version":"qwe)j"
    R"j(n2.5-vl-7b/uamc-v3","cost":{"requests":2,"cached_requests":1,"samples":5,"malformed":1,"prom)j"
    R"j(pt_tokens":1834,"completion_tokens":212},"flags":[],"phash":"8f3c0a1b2c3d4e5f","conversation)j"
    R"j(s":[{"from":"human","value":"<image>\nHow would you describe the emotion on this face in one)j"
    R"j( word, and why?"},{"from":"gpt","value":"The facial expression is contempt. One lip corner r)j"
    R"j(aised."},{"from":"human","value":"Rate this face on the circumplex model: valence and arousa)j"
    R"j(l from -1 to 1."},{"from":"gpt","value":"Valence is -0.30 and arousal is 0.31."},{"from":"hu)j"
    R"j(man","value":"List the FACS action units you can observe."},{"from":"gpt","value":"Active ac)j"
    R"j(tion units: AU6 (Cheek raiser), AU12 (Lip corner puller). AU6 and AU12 are active."}],"revie)j"
    R"j(w":{"status":"corrected","levels":{"expression":"corrected","va":"corrected","au":"accepted")j"
    R"j(},"reviewer":"7","at":"2026-11-26T17:20:00Z","model_labels":{"expression":"happy","valence":)j"
    R"j(0.62,"arousal":0.31,"action_units":["AU6","AU12"]},"model_descriptions":{"expression":"Cheek)j"
    R"j(s raised and lip corners pulled up.","va":"Pleasant and mildly activated.","au":"AU6 and AU1)j"
    R"j(2 are active."}}})j";

const char* const kReviewedTwice =
    R"j({"id":"img1_face2","image":"images/img1.jpg","face":{"x":10,"y":20,"w":30,"h":40},"labels":{)j"
    R"j("expression":"contempt","valence":-0.3,"arousal":0.31,"action_units":["AU6","AU12"]},"descri)j"
    R"j(ptions":{"expression":"","va":"","au":"AU6 and AU12 are active."},"provenance":{"expression")j"
    R"j(:"human","va":"human","au":"human"},"uncertainty":{"expression":0.1,"va":0.2,"au":0.3,"consi)j"
    R"j(stency":0.05,"overall":0.15},"status":"corrected","model_version":"qwen2.5-vl-7b/uamc-v3","c)j"
    R"j(ost":{"requests":2,"cached_requests":1,"samples":5,"malformed":1,"prompt_tokens":1834,"compl)j"
    R"j(etion_tokens":212},"flags":[],"phash":"8f3c0a1b2c3d4e5f","conversations":[{"from":"human","v)j"
    R"j(alue":"<image>\nHow would you describe the emotion on this face in one word, and why?"},{"fr)j"
    R"j(om":"gpt","value":"The facial expression is contempt."},{"from":"human","value":"Rate this f)j"
    R"j(ace on the circumplex model: valence and arousal from -1 to 1."},{"from":"gpt","value":"Vale)j"
    R"j(nce is -0.30 and arousal is 0.31."},{"from":"human","value":"List the FACS action units you )j"
    R"j(can observe."},{"from":"gpt","value":"Active action units: AU6 (Cheek raiser), AU12 (Lip cor)j"
    R"j(ner puller). AU6 and AU12 are active."}],"review":{"status":"corrected","levels":{"expressio)j"
    R"j(n":"corrected","va":"corrected","au":"accepted"},"reviewer":"8","at":"2026-11-27T09:00:00Z",)j"
    R"j("model_labels":{"expression":"happy","valence":0.62,"arousal":0.31,"action_units":["AU6","AU)j"
    R"j(12"]},"model_descriptions":{"expression":"Cheeks raised and lip corners pulled up.","va":"Pl)j"
    R"j(easant and mildly activated.","au":"AU6 and AU12 are active."}}})j";

const char* const kRejected =
    R"j({"id":"ck/s042","image":"ck/s042.png","face":{"x":0,"y":4,"w":96,"h":96},"labels":{"expressi)j"
    R"j(on":"sad","valence":-0.7,"arousal":-0.2,"action_units":["AU1","AU4","AU15"]},"descriptions":)j"
    R"j({"expression":"","va":"","au":"Inner brows raised and lowered, lip corners down."},"provenan)j"
    R"j(ce":{"expression":"source","va":"source","au":"model"},"uncertainty":{"expression":0.0,"va":)j"
    R"j(0.0,"au":0.35,"consistency":0.1,"overall":0.12},"status":"rejected","model_version":"qwen2.5)j"
    R"j(-vl-7b/uamc-v3","cost":{"requests":1,"cached_requests":0,"samples":3,"malformed":0,"prompt_t)j"
    R"j(okens":900,"completion_tokens":80},"flags":[],"phash":"00ff00ff00ff00ff","conversations":[{")j"
    R"j(from":"human","value":"<image>\nWhat facial expression does this person show?"},{"from":"gpt)j"
    R"j(","value":"The facial expression is sad."},{"from":"human","value":"Rate this face on the ci)j"
    R"j(rcumplex model: valence and arousal from -1 to 1."},{"from":"gpt","value":"Valence is -0.70 )j"
    R"j(and arousal is -0.20."},{"from":"human","value":"List the FACS action units you can observe.)j"
    R"j("},{"from":"gpt","value":"Active action units: AU1 (Inner brow raiser), AU4 (Brow lowerer), )j"
    R"j(AU15 (Lip corner depressor). Inner brows raised and lowered, lip corners down."}],"review":{)j"
    R"j("status":"rejected","levels":{"expression":"absent","va":"absent","au":"absent"},"reviewer":)j"
    R"j("cvat:ann","at":"2026-11-28","model_labels":{"expression":"sad","valence":-0.7,"arousal":-0.)j"
    R"j(2,"action_units":["AU1","AU4","AU15"]},"model_descriptions":{"expression":"","va":"","au":"I)j"
    R"j(nner brows raised and lowered, lip corners down."}}})j";

const char* const kBoxMoved =
    R"j({"id":"img1_face2","image":"images/img1.jpg","face":{"x":12,"y":18,"w":33,"h":41},"labels":{)j"
    R"j("expression":"happy","valence":0.62,"arousal":0.31,"action_units":["AU6","AU12"]},"descripti)j"
    R"j(ons":{"expression":"Cheeks raised and lip corners pulled up.","va":"Pleasant and mildly acti)j"
    R"j(vated.","au":"AU6 and AU12 are active."},"provenance":{"expression":"human","va":"human","au)j"
    R"j(":"human"},"uncertainty":{"expression":0.1,"va":0.2,"au":0.3,"consistency":0.05,"overall":0.)j"
    R"j(15},"status":"corrected","model_version":"qwen2.5-vl-7b/uamc-v3","cost":{"requests":2,"cache)j"
    R"j(d_requests":1,"samples":5,"malformed":1,"prompt_tokens":1834,"completion_tokens":212},"flags)j"
    R"j(":[],"phash":"8f3c0a1b2c3d4e5f","conversations":[{"from":"human","value":"<image>\nHow would)j"
    R"j( you describe the emotion on this face in one word, and why?"},{"from":"gpt","value":"The fa)j"
    R"j(cial expression is happy. Cheeks raised and lip corners pulled up."},{"from":"human","value")j"
    R"j(:"Rate this face on the circumplex model: valence and arousal from -1 to 1."},{"from":"gpt",)j"
    R"j("value":"Valence is 0.62 and arousal is 0.31. Pleasant and mildly activated."},{"from":"huma)j"
    R"j(n","value":"List the FACS action units you can observe."},{"from":"gpt","value":"Active acti)j"
    R"j(on units: AU6 (Cheek raiser), AU12 (Lip corner puller). AU6 and AU12 are active."}],"review")j"
    R"j(:{"status":"corrected","levels":{"expression":"accepted","va":"accepted","au":"accepted"},"r)j"
    R"j(eviewer":"cvat:ann","at":"2026-11-29T08:00:00Z","model_labels":{"expression":"happy","valenc)j"
    R"j(e":0.62,"arousal":0.31,"action_units":["AU6","AU12"]},"model_descriptions":{"expression":"Ch)j"
    R"j(eeks raised and lip corners pulled up.","va":"Pleasant and mildly activated.","au":"AU6 and )j"
    R"j(AU12 are active."},"box":"corrected"}})j";

const char* const kAddedByHuman =
    R"j({"id":"cvat/3/5_cvat77","image":"cvat://task/3/frame/5","face":{"x":5,"y":6,"w":70,"h":80},")j"
    R"j(labels":{"expression":"anger","valence":null,"arousal":null,"action_units":null},"descriptio)j"
    R"j(ns":{"expression":"","va":"","au":""},"provenance":{"expression":"human","va":"model","au":")j"
    R"j(model"},"uncertainty":{"expression":0.0,"va":0.0,"au":0.0,"consistency":0.0,"overall":0.0},")j"
    R"j(status":"added","model_version":"human","cost":{"requests":0,"cached_requests":0,"samples":0)j"
    R"j(,"malformed":0,"prompt_tokens":0,"completion_tokens":0},"flags":[],"conversations":[{"from":)j"
    R"j("human","value":"<image>\nClassify the facial expression in this image."},{"from":"gpt","val)j"
    R"j(ue":"The facial expression is anger."}],"review":{"status":"added","reviewer":"cvat:ann","at)j"
    R"j(":"2026-11-29T08:00:00Z","cvat_shape_id":77,"cvat_source":"manual"}})j";

struct ExportBytes {
    const char* feid_jsonl;
    const char* llava;
    const char* sharegpt;
};

const ExportBytes kModelExport = {
    kModel,
    R"j({"id":"img1_face2","image":"images/img1.jpg","conversations":[{"from":"human","value":"<)j"
    R"j(image>\nHow would you describe the emotion on this face in one word, and why?"},{"from":)j"
    R"j("gpt","value":"The facial expression is happy. Cheeks raised and lip corners pulled up.")j"
    R"j(},{"from":"human","value":"Rate this face on the circumplex model: valence and arousal f)j"
    R"j(rom -1 to 1."},{"from":"gpt","value":"Valence is 0.62 and arousal is 0.31. Pleasant and )j"
    R"j(mildly activated."},{"from":"human","value":"List the FACS action units you can observe.)j"
    R"j("},{"from":"gpt","value":"Active action units: AU6 (Cheek raiser), AU12 (Lip corner pull)j"
    R"j(er). AU6 and AU12 are active."}]})j",
    R"j({"messages":[{"role":"user","content":"<image>\nHow would you describe the emotion on th)j"
    R"j(is face in one word, and why?"},{"role":"assistant","content":"The facial expression is )j"
    R"j(happy. Cheeks raised and lip corners pulled up."},{"role":"user","content":"Rate this fa)j"
    R"j(ce on the circumplex model: valence and arousal from -1 to 1."},{"role":"assistant","con)j"
    R"j(tent":"Valence is 0.62 and arousal is 0.31. Pleasant and mildly activated."},{"role":"us)j"
    R"j(er","content":"List the FACS action units you can observe."},{"role":"assistant","conten)j"
    R"j(t":"Active action units: AU6 (Cheek raiser), AU12 (Lip corner puller). AU6 and AU12 are )j"
    R"j(active."}],"images":["images/img1.jpg"]})j",
};

const ExportBytes kWholeImageExport = {
    kWholeImage,
    R"j({"id":"img7","image":"https://example.org/img7.jpg","conversations":[{"from":"human","va)j"
    R"j(lue":"<image>\nClassify the facial expression in this image."},{"from":"gpt","value":"Th)j"
    R"j(e facial expression is surprise. Brows raised, jaw dropped."},{"from":"human","value":"G)j"
    R"j(ive the valence-arousal values of this facial expression."},{"from":"gpt","value":"Valen)j"
    R"j(ce is 0.10 and arousal is 0.80."},{"from":"human","value":"Which facial action units are)j"
    R"j( active on this face?"},{"from":"gpt","value":"No action units are clearly active."}]})j",
    R"j({"messages":[{"role":"user","content":"<image>\nClassify the facial expression in this i)j"
    R"j(mage."},{"role":"assistant","content":"The facial expression is surprise. Brows raised, )j"
    R"j(jaw dropped."},{"role":"user","content":"Give the valence-arousal values of this facial )j"
    R"j(expression."},{"role":"assistant","content":"Valence is 0.10 and arousal is 0.80."},{"ro)j"
    R"j(le":"user","content":"Which facial action units are active on this face?"},{"role":"assi)j"
    R"j(stant","content":"No action units are clearly active."}],"images":["https://example.org/)j"
    R"j(img7.jpg"]})j",
};

const ExportBytes kKnownLabelsExport = {
    kKnownLabels,
    R"j({"id":"ck/s042","image":"ck/s042.png","conversations":[{"from":"human","value":"<image>\)j"
    R"j(nWhat facial expression does this person show?"},{"from":"gpt","value":"The facial expre)j"
    R"j(ssion is sad."},{"from":"human","value":"Rate this face on the circumplex model: valence)j"
    R"j( and arousal from -1 to 1."},{"from":"gpt","value":"Valence is -0.70 and arousal is -0.2)j"
    R"j(0."},{"from":"human","value":"List the FACS action units you can observe."},{"from":"gpt)j"
    R"j(","value":"Active action units: AU1 (Inner brow raiser), AU4 (Brow lowerer), AU15 (Lip c)j"
    R"j(orner depressor). Inner brows raised and lowered, lip corners down."}]})j",
    R"j({"messages":[{"role":"user","content":"<image>\nWhat facial expression does this person )j"
    R"j(show?"},{"role":"assistant","content":"The facial expression is sad."},{"role":"user","c)j"
    R"j(ontent":"Rate this face on the circumplex model: valence and arousal from -1 to 1."},{"r)j"
    R"j(ole":"assistant","content":"Valence is -0.70 and arousal is -0.20."},{"role":"user","con)j"
    R"j(tent":"List the FACS action units you can observe."},{"role":"assistant","content":"Acti)j"
    R"j(ve action units: AU1 (Inner brow raiser), AU4 (Brow lowerer), AU15 (Lip corner depressor)j"
    R"j(). Inner brows raised and lowered, lip corners down."}],"images":["ck/s042.png"]})j",
};

const ExportBytes kReviewedExport = {
    kReviewed,
    R"j({"id":"img1_face2","image":"images/img1.jpg","conversations":[{"from":"human","value":"<)j"
    R"j(image>\nHow would you describe the emotion on this face in one word, and why?"},{"from":)j"
    R"j("gpt","value":"The facial expression is contempt. One lip corner raised."},{"from":"huma)j"
    R"j(n","value":"Rate this face on the circumplex model: valence and arousal from -1 to 1."},)j"
    R"j({"from":"gpt","value":"Valence is -0.30 and arousal is 0.31."},{"from":"human","value":")j"
    R"j(List the FACS action units you can observe."},{"from":"gpt","value":"Active action units)j"
    R"j(: AU6 (Cheek raiser), AU12 (Lip corner puller). AU6 and AU12 are active."}]})j",
    R"j({"messages":[{"role":"user","content":"<image>\nHow would you describe the emotion on th)j"
    R"j(is face in one word, and why?"},{"role":"assistant","content":"The facial expression is )j"
    R"j(contempt. One lip corner raised."},{"role":"user","content":"Rate this face on the circu)j"
    R"j(mplex model: valence and arousal from -1 to 1."},{"role":"assistant","content":"Valence )j"
    R"j(is -0.30 and arousal is 0.31."},{"role":"user","content":"List the FACS action units you)j"
    R"j( can observe."},{"role":"assistant","content":"Active action units: AU6 (Cheek raiser), )j"
    R"j(AU12 (Lip corner puller). AU6 and AU12 are active."}],"images":["images/img1.jpg"]})j",
};

FaceResult model_result() {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "happy";
    r.labels.valence = 0.62;
    r.labels.arousal = 0.31;
    r.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
    r.descriptions = {"Cheeks raised and lip corners pulled up.", "Pleasant and mildly activated.",
                      "AU6 and AU12 are active."};
    r.uncertainty = {0.1, 0.2, 0.3, 0.05, 0.15};
    r.cost = {2, 1, 5, 1, 1834, 212, 0, {}};
    return r;
}

// No face detected: the whole image is the face, and its overall uncertainty is not finite.
FaceResult whole_image_result() {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "surprise";
    r.labels.valence = 0.1;
    r.labels.arousal = 0.8;
    r.labels.action_units = std::vector<std::string>{};
    r.descriptions = {"Brows raised, jaw dropped.", "", ""};
    r.uncertainty = {0.4, 0.25, 0.5, 0.3, NAN};
    r.cost = {3, 0, 9, 0, 2500, 400, 0, {}};
    return r;
}

// Expression and VA were known (the item's prior labels), only the AUs asked.
FaceResult known_labels_result() {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "sad";
    r.labels.valence = -0.7;
    r.labels.arousal = -0.2;
    r.labels.action_units = std::vector<std::string>{"AU1", "AU4", "AU15"};
    r.descriptions = {"", "", "Inner brows raised and lowered, lip corners down."};
    r.provenance.expression = Provenance::source;
    r.provenance.va = Provenance::source;
    r.uncertainty = {0, 0, 0.35, 0.1, 0.12};
    r.cost = {1, 0, 3, 0, 900, 80, 0, {}};
    return r;
}

// The records of every fixture, built by the code that builds them in seke.
struct Records {
    FaceResult model = model_result(), whole = whole_image_result(), known = known_labels_result();
    FaceRow model_row, whole_row, known_row;
    FeidRecord reviewed, reviewed_twice, rejected, box_moved, added;

    Records() {
        const Knowledge& k = test::test_knowledge();
        const std::string version = "qwen2.5-vl-7b/uamc-v3";
        model_row = face_row(k,
                             {"img1_face2",
                              "images/img1.jpg",
                              Box{10, 20, 30, 40},
                              false,
                              &model,
                              version,
                              "auto",
                              "8f3c0a1b2c3d4e5f",
                              "\xff\xd8 thumbnail",
                              "",
                              "",
                              {}},
                             "img1", 1);
        whole_row = face_row(
            k,
            {"img7", "https://example.org/img7.jpg", std::nullopt, true, &whole, version, "auto", "", "", "", "", {}},
            "img7", 0);
        known_row = face_row(k,
                             {"ck/s042",
                              "ck/s042.png",
                              Box{0, 4, 96, 96},
                              false,
                              &known,
                              version,
                              "auto",
                              "00ff00ff00ff00ff",
                              "",
                              "",
                              "",
                              {}},
                             "ck/s042", 0);

        // Expression and VA corrected, AUs kept, the expression's description rewritten.
        FeidRecord stored = *model_row.record();
        PredictedFace shown = predicted_face("img1_face2", std::string("img1_face2"), stored);
        ReviewedFace edited{std::string("img1_face2"), shown.box, shown.labels, {}};
        edited.labels.expression = "contempt";
        edited.labels.valence = -0.3;
        edited.descriptions.expression = "One lip corner raised.";
        reviewed =
            merge_review_into_record(k, stored, diff_review({shown}, {edited}).faces[0], "7", "2026-11-26T17:20:00Z");
        // Reviewed again, left as it stands: the first review's model labels stay.
        PredictedFace shown_again = predicted_face("img1_face2", std::nullopt, reviewed);
        ReviewedFace kept{std::nullopt, shown_again.box, reviewed.labels, {}};
        reviewed_twice = merge_review_into_record(k, reviewed, diff_review({shown_again}, {kept}).faces[0], "8",
                                                  "2026-11-27T09:00:00Z");

        FeidRecord known_record = *known_row.record();
        PredictedFace known_face = predicted_face("ck/s042", std::nullopt, known_record);
        rejected =
            merge_review_into_record(k, known_record, diff_review({known_face}, {}).faces[0], "cvat:ann", "2026-11-28");

        // As cvat/sync.cpp writes them: a box the reviewer moved, and a face a human drew.
        FaceReview moved =
            diff_review({shown}, {ReviewedFace{std::string("img1_face2"), shown.box, shown.labels, {}}}).faces[0];
        moved.status = ReviewStatus::corrected;
        box_moved = merge_review_into_record(k, stored, moved, "cvat:ann", "2026-11-29T08:00:00Z");
        box_moved.face = Box{12, 18, 33, 41};
        box_moved.review->box = "corrected";

        FaceResult human;
        human.ok = true;
        human.labels.expression = "anger";
        human.provenance.expression = Provenance::human;
        FeidInput drawn;
        drawn.id = "cvat/3/5_cvat77";
        drawn.image = "cvat://task/3/frame/5";
        drawn.face = Box{5, 6, 70, 80};
        drawn.result = &human;
        drawn.model_version = "human";
        drawn.status = "added";
        added = feid_record(k, drawn);
        RecordReview origin;
        origin.status = "added";
        origin.reviewer = "cvat:ann";
        origin.at = "2026-11-29T08:00:00Z";
        origin.cvat_shape_id = 77;
        origin.cvat_source = "manual";
        added.review = origin;
    }
};

std::string dumped(const FeidRecord& record) {
    return record.to_json().dump();
}

// What `seke export` writes for each face of `store`, by face id.
std::map<std::string, std::array<std::string, 3>> exported(Store& store) {
    std::map<std::string, std::array<std::string, 3>> out;
    auto visited = store.for_each_face([&](const FaceRow& row) {
        auto record = row.record();
        BOOST_TEST_REQUIRE(record.ok(), (record.ok() ? "" : record.error().message));
        record->status = row.status;
        out[row.id] = {export_entry(*record, ExportFormat::feid_jsonl).dump(),
                       export_entry(*record, ExportFormat::llava).dump(),
                       export_entry(*record, ExportFormat::sharegpt).dump()};
        return true;
    });
    BOOST_TEST_REQUIRE(visited.ok());
    return out;
}

void check_export(const std::array<std::string, 3>& actual, const ExportBytes& expected) {
    BOOST_TEST(actual[0] == expected.feid_jsonl);
    BOOST_TEST(actual[1] == expected.llava);
    BOOST_TEST(actual[2] == expected.sharegpt);
}

ItemOutcome outcome_of(const FaceRow& row) {
    ItemOutcome outcome;
    outcome.item.id = row.item_id;
    outcome.item.image = "image of " + row.item_id;
    outcome.item.status = ItemStatus::done;
    outcome.faces.push_back(row);
    // The store's overall column takes no NaN (SQLite binds it as NULL); the record keeps its null.
    if (!std::isfinite(outcome.faces.back().overall)) outcome.faces.back().overall = 1;
    return outcome;
}

std::string error_of(const std::string& text) {
    auto record = FeidRecord::parse(text);
    BOOST_TEST_REQUIRE(!record.ok(), text);
    BOOST_TEST((record.error().code == errc::bad_json));
    return record.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_feid_record)

BOOST_AUTO_TEST_CASE(records_are_built_as_the_bytes_seke_always_wrote) {
    Records r;
    BOOST_TEST(r.model_row.record_json == kModel);
    BOOST_TEST(r.whole_row.record_json == kWholeImage);
    BOOST_TEST(r.known_row.record_json == kKnownLabels);
    BOOST_TEST(dumped(r.reviewed) == kReviewed);
    BOOST_TEST(dumped(r.reviewed_twice) == kReviewedTwice);
    BOOST_TEST(dumped(r.rejected) == kRejected);
    BOOST_TEST(dumped(r.box_moved) == kBoxMoved);
    BOOST_TEST(dumped(r.added) == kAddedByHuman);
}

BOOST_AUTO_TEST_CASE(a_record_read_and_written_again_is_the_same_bytes) {
    for (const char* text :
         {kModel, kWholeImage, kKnownLabels, kReviewed, kReviewedTwice, kRejected, kBoxMoved, kAddedByHuman}) {
        auto record = FeidRecord::parse(text);
        BOOST_TEST_REQUIRE(record.ok(), (record.ok() ? "" : record.error().message));
        BOOST_TEST(dumped(*record) == text);
        auto again = FeidRecord::from_json(record->to_json());
        BOOST_TEST_REQUIRE(again.ok());
        BOOST_TEST(dumped(*again) == text);
    }
}

BOOST_AUTO_TEST_CASE(exports_are_byte_identical_in_every_format) {
    Records r;
    test::TempDir dir;
    auto store = Store::open((dir / "export.db").string());
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST_REQUIRE(
        (*store)->save_outcomes({outcome_of(r.model_row), outcome_of(r.whole_row), outcome_of(r.known_row)}).ok());
    auto before = exported(**store);
    BOOST_TEST_REQUIRE(before.size() == 3u);
    check_export(before["img1_face2"], kModelExport);
    check_export(before["img7"], kWholeImageExport);
    check_export(before["ck/s042"], kKnownLabelsExport);

    BOOST_TEST_REQUIRE((*store)->save_review("img1_face2", "corrected", r.reviewed).ok());
    auto after = exported(**store);
    check_export(after["img1_face2"], kReviewedExport);
    check_export(after["ck/s042"], kKnownLabelsExport);
}

BOOST_AUTO_TEST_CASE(what_a_review_is_diffed_against_is_the_models_first_answer) {
    Records r;
    const FeidRecord& twice = r.reviewed_twice;
    BOOST_TEST(*twice.labels.expression == "contempt");
    BOOST_TEST(*twice.model_labels().expression == "happy");
    BOOST_TEST(twice.model_descriptions().expression == "Cheeks raised and lip corners pulled up.");
    BOOST_TEST(provenance_name(twice.provenance.expression) == "human");
    // Every level was judged: each was the model's before the review made it human.
    for (Level level : kAllLevels) BOOST_TEST(provenance_name(twice.model_provenance().of(level)) == "model");
    BOOST_TEST(twice.uncertainty.values().overall == 0.15);

    // Known facts stay facts; a level a rejection could not judge keeps its provenance.
    const FeidRecord& rejected = r.rejected;
    BOOST_TEST(provenance_name(rejected.model_provenance().expression) == "source");
    BOOST_TEST(provenance_name(rejected.model_provenance().au) == "model");
    // Never reviewed: the labels now are the model's.
    FeidRecord fresh = *r.whole_row.record();
    BOOST_TEST(!fresh.review.has_value());
    BOOST_TEST(*fresh.model_labels().expression == "surprise");
    BOOST_TEST(!fresh.face.has_value());
    BOOST_TEST(fresh.flags == std::vector<std::string>{kNoFaceDetectedFlag});
    BOOST_TEST(!fresh.uncertainty.overall.has_value());
    BOOST_TEST(fresh.uncertainty.values().overall == 0.0);  // unknown reads as 0, as before
}

BOOST_AUTO_TEST_CASE(left_out_members_take_their_defaults_and_unknown_ones_are_kept) {
    auto bare = FeidRecord::parse(R"({"id":"cvat/1/0"})");
    BOOST_TEST_REQUIRE(bare.ok());
    BOOST_TEST(bare->id == "cvat/1/0");
    BOOST_TEST(bare->status == "auto");
    BOOST_TEST(!bare->face.has_value());
    BOOST_TEST(bare->labels.empty());
    BOOST_TEST(provenance_name(bare->provenance.va) == "model");
    BOOST_TEST(bare->conversations.empty());

    // Null is the same as left out.
    auto nulls = FeidRecord::parse(R"({"id":"n","labels":null,"review":null,"status":null})");
    BOOST_TEST_REQUIRE(nulls.ok());
    BOOST_TEST(nulls->status == "auto");
    BOOST_TEST(!nulls->review.has_value());

    // A member another tool added survives a review, written after seke's own.
    std::string text = std::string(kModel);
    text.insert(text.size() - 1, R"(,"source_dataset":{"name":"AffectNet","split":"val"})");
    auto extended = FeidRecord::parse(text);
    BOOST_TEST_REQUIRE(extended.ok());
    BOOST_TEST(dumped(*extended) == text);
    PredictedFace shown = predicted_face("img1_face2", std::nullopt, *extended);
    FeidRecord merged = merge_review_into_record(
        test::test_knowledge(), *extended,
        diff_review({shown}, {ReviewedFace{std::nullopt, shown.box, shown.labels, {}}}).faces[0], "7", "t");
    ordered_json written = merged.to_json();
    BOOST_TEST(written["source_dataset"]["name"] == "AffectNet");
    BOOST_TEST((std::prev(written.end()).key() == "source_dataset"));
}

BOOST_AUTO_TEST_CASE(a_member_of_the_wrong_type_is_an_error_that_names_it) {
    BOOST_TEST(error_of("{not json").find("not JSON") != std::string::npos);
    BOOST_TEST(error_of("[1,2]").find("not a JSON object") != std::string::npos);
    BOOST_TEST(error_of(R"({"labels":{"valence":"high"}})").find("labels.valence is string, not a number") !=
               std::string::npos);
    BOOST_TEST(error_of(R"({"labels":"happy"})").find("labels is string, not an object") != std::string::npos);
    BOOST_TEST(error_of(R"({"labels":{"action_units":["AU1",12]}})").find("labels.action_units[]") !=
               std::string::npos);
    BOOST_TEST(error_of(R"({"face":{"x":1.5}})").find("face.x") != std::string::npos);
    BOOST_TEST(error_of(R"({"face":{"x":3000000000}})").find("face.x") != std::string::npos);
    BOOST_TEST(error_of(R"({"provenance":{"va":"robot"}})").find(R"(provenance.va is "robot")") != std::string::npos);
    BOOST_TEST(error_of(R"({"review":{"levels":{"au":"maybe"}}})").find("review.levels.au") != std::string::npos);
    BOOST_TEST(error_of(R"({"conversations":[{"from":1}]})").find("conversations[].from") != std::string::npos);
    BOOST_TEST(error_of(R"({"cost":{"requests":-1.5}})").find("cost.requests") != std::string::npos);

    FaceRow row;
    row.id = "img9";
    row.record_json = R"({"uncertainty":{"overall":"low"}})";
    auto record = row.record();
    BOOST_TEST_REQUIRE(!record.ok());
    BOOST_TEST(record.error().message.find("face img9: ") == 0u);
    BOOST_TEST(record.error().message.find("uncertainty.overall") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
