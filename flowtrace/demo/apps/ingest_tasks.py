"""The tasks of the ``ingest_batch`` flow (``ingest.yml``): reading a batch of documents from an inbox.

The inbox is simulated by :data:`INBOX`, so the example needs nothing but
Celery: each task does a few lines of work on it, and what a task returns is
kept in the ``Documents`` storage, where the conditions and the tasks after
it read it.
"""

from __future__ import annotations

import flowtrace

#: The documents waiting in the inbox, by file name, with their text layer;
#: a photo of a receipt has none, so its text cannot be extracted.
INBOX = {
    "contract-7.docx": "Service agreement between Acme GmbH and Example Ltd for document archiving",
    "invoice-0042.pdf": "Invoice 42 from Acme GmbH total 1280.00 EUR due 2026-12-21",
    "receipt-913.jpg": None,
}


class ListInbox(flowtrace.FlowTask):
    """Lists the documents of the batch, and says whether the batch is urgent."""

    def run(self, node_args):
        return {"batch": node_args["batch"], "documents": sorted(INBOX), "urgent": node_args.get("urgent", False)}


def each_document(storage_pool, node_args):
    """The ``foreach`` function: one ``process_document`` sub-flow per listed document, with these arguments."""
    listed = storage_pool.get("ListInbox")
    return [{"batch": listed["batch"], "document": name} for name in listed["documents"]]


class ExtractText(flowtrace.FlowTask):
    """Reads the text layer of one document."""

    def run(self, node_args):
        name = node_args["document"]
        text = INBOX[name]
        if text is None:
            # Retrying cannot help: fail now, and let the flow's fallback take over.
            raise flowtrace.FatalTaskError("%s has no text layer" % name)
        return {"document": name, "words": text.split()}


class IndexDocument(flowtrace.FlowTask):
    """Adds the words of one document to the search index (here: counts its distinct terms)."""

    def run(self, node_args):
        extracted = self.parent_task_result("ExtractText")
        return {"document": extracted["document"], "terms": len({word.lower() for word in extracted["words"]})}


class ArchiveOriginals(flowtrace.FlowTask):
    """Packs the original files of the batch into one archive."""

    def run(self, node_args):
        listed = self.parent_task_result("ListInbox")
        return {"archive": "archive/%s.zip" % listed["batch"], "files": len(listed["documents"])}


class PageOnCall(flowtrace.FlowTask):
    """Pages the on-call reviewer; only for an urgent batch."""

    def run(self, node_args):
        self.log.warning("urgent batch %s is waiting for review", node_args["batch"])


class QueueForOcr(flowtrace.FlowTask):
    """The fallback: queues the documents whose text could not be extracted for OCR."""

    def run(self, node_args):
        # propagate_failures gives the failed tasks of each failed sub-flow, by name.
        failed = self.parent["process_document"]["ExtractText"]
        errors = [self.storage.retrieve_error("process_document", "ExtractText", task_id) for task_id in failed]
        return {"queued": [error["message"] for error in errors]}
