"""Models and where they come from: the schema (config, model, trusted), the readers of YAML,
config.json, GGUF and Hugging Face repo ids (hf, gguf, hub), the shipped configs (registry,
index), and the weights (quantization, params)."""
