# A stand-in of the same shape as label-studio-ml-backend's Docker image (a Flask app under
# gunicorn), answering /health and a one-task /predict from memory. Only for bench/serve.sh.
import json
import os

from flask import Flask, jsonify, request

app = Flask(__name__)
PREDICTION = json.loads(os.environ.get("REFERENCE_PREDICTION", '{"result": [], "score": 0.5, "model_version": "ref"}'))


@app.route("/health", methods=["GET"])
@app.route("/", methods=["GET"])
def health():
    return jsonify({"status": "UP", "model_class": "LabelStudioMLBase"})


@app.route("/predict", methods=["POST"])
def predict():
    tasks = request.get_json(force=True).get("tasks", [])
    if isinstance(tasks, dict):
        tasks = [tasks]
    return jsonify({"results": [PREDICTION for _ in tasks]})
