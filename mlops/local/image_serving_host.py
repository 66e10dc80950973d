"""One model served by the SageMaker scikit-learn or XGBoost image's own serving stack, in the
image's environment (run as a script by that interpreter: it imports nothing of this project).
Both images serve a script-mode module the same way (sagemaker-containers 2.8.6.post2); they
differ only in the defaults for what the module leaves out.

It does what src/sagemaker_sklearn_container/serving.py of aws/sagemaker-scikit-learn-container
(1.4-2) does for a single-model endpoint: import SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY,
wrap its model_fn/input_fn/predict_fn/output_fn (or transform_fn) in sagemaker-containers'
transformer.Transformer, initialize it (model_fn on SAGEMAKER_BASE_DIR/model), and serve
transform through sagemaker-containers' worker.Worker, the Flask app gunicorn runs in the image.
Requests come from the local cloud as JSON lines on stdin and go to the app's /invocations through
Flask's WSGI test client; each answer (status, Content-Type, body) is one JSON line on the
descriptor the parent passed, so that what the model code prints cannot corrupt it.
"""

import base64
import importlib
import json
import os
import sys
import traceback


def _user_module_transformer(user_module, transformer, framework):
    """serving.py's _user_module_transformer (sagemaker_sklearn_container 2.0, and
    sagemaker_xgboost_container 3.0-5, which differs only in its defaults for what the module
    leaves out)."""
    if framework == "xgboost":
        return _xgboost_user_module_transformer(user_module, transformer)
    model_fn = getattr(user_module, "model_fn", None)
    input_fn = getattr(user_module, "input_fn", None)
    predict_fn = getattr(user_module, "predict_fn", None)
    output_fn = getattr(user_module, "output_fn", None)
    transform_fn = getattr(user_module, "transform_fn", None)
    if transform_fn and (input_fn or predict_fn or output_fn):
        raise ValueError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
    if transform_fn is not None:
        return transformer.Transformer(model_fn=model_fn, transform_fn=transform_fn)
    return transformer.Transformer(model_fn=model_fn, input_fn=input_fn, predict_fn=predict_fn, output_fn=output_fn)


def _xgboost_user_module_transformer(user_module, transformer):
    """src/sagemaker_xgboost_container/serving.py's _user_module_transformer: model_fn defaults to
    the Transformer's own default (which raises), input_fn, predict_fn and output_fn to the
    container's decoders of CSV, LIBSVM and RecordIO into a DMatrix. Those defaults are the
    container's own package, which is not installed here: a module that leaves one out is
    refused rather than served by something else."""
    model_fn = getattr(user_module, "model_fn", transformer.default_model_fn)
    input_fn = getattr(user_module, "input_fn", None)
    predict_fn = getattr(user_module, "predict_fn", None)
    output_fn = getattr(user_module, "output_fn", None)
    transform_fn = getattr(user_module, "transform_fn", None)
    if transform_fn and (input_fn or predict_fn or output_fn):
        raise ValueError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
    if transform_fn is not None:
        return transformer.Transformer(model_fn=model_fn, transform_fn=transform_fn)
    missing = [name for name, fn in (("input_fn", input_fn), ("predict_fn", predict_fn), ("output_fn", output_fn)) if fn is None]
    if missing:
        raise NotImplementedError(
            "the XGBoost image's default %s (sagemaker_xgboost_container) cannot run locally; "
            "define them in the serving module" % ", ".join(missing)
        )
    return transformer.Transformer(model_fn=model_fn, input_fn=input_fn, predict_fn=predict_fn, output_fn=output_fn)


def main():
    answers = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    framework = sys.argv[2] if len(sys.argv) > 2 else "sklearn"
    try:
        from sagemaker_containers.beta.framework import env, transformer, worker

        serving_env = env.ServingEnv()
        sys.path.insert(0, serving_env.module_dir)
        user_module = importlib.import_module(serving_env.module_name)
        user_transformer = _user_module_transformer(user_module, transformer, framework)
        user_transformer.initialize()
        app = worker.Worker(transform_fn=user_transformer.transform, module_name=serving_env.module_name)
        client = app.test_client()
    except Exception as error:  # the endpoint cannot start: report why, as the image's logs would
        answers.write(json.dumps({"ready": False, "error": "%s: %s" % (type(error).__name__, error),
                                  "trace": traceback.format_exc()}) + "\n")
        return 1
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        headers = {"Content-Type": request["content_type"]}
        if request.get("accept"):
            headers["Accept"] = request["accept"]
        response = client.post("/invocations", data=base64.b64decode(request["body"]), headers=headers)
        answers.write(json.dumps({
            "status": response.status_code,
            "content_type": response.headers.get("Content-Type"),
            "body": base64.b64encode(response.get_data()).decode("ascii"),
        }) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
