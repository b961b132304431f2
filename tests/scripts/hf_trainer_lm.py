"""A tiny GPT-2 built in code (no download) trained with the Hugging Face Trainer.
LABELS is replaced by the test: healthy labels, or a collator bug that masks every label."""
import sys

import torch
from torch.utils.data import Dataset
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments


class Counting(Dataset):
    def __len__(self):
        return 256

    def __getitem__(self, i):
        ids = (torch.arange(16) + i) % 32
        return {"input_ids": ids, "labels": LABELS}


if __name__ == "__main__":
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=32, n_positions=16, n_embd=32, n_layer=2, n_head=2)
    args = TrainingArguments(output_dir=sys.argv[1], per_device_train_batch_size=16, num_train_epochs=2,
                             learning_rate=3e-3, logging_steps=5, save_strategy="no", report_to=[],
                             use_cpu=True, disable_tqdm=True, seed=0)
    Trainer(model=GPT2LMHeadModel(config), args=args, train_dataset=Counting()).train()
