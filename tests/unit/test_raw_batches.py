from mednet_cli.bench.raw import RawProcess


def test_the_raw_loop_sends_as_many_commands_carrying_as_many_documents_as_the_service():
    batches = RawProcess("notify", (), writes=4, documents=11).batches()
    assert (len(batches), sum(batches)) == (4, 11) and max(batches) - min(batches) <= 1


def test_commands_that_wrote_nothing_still_cost_one_document_each_and_no_writes_cost_nothing():
    assert RawProcess("notes", (), writes=5, documents=3).batches() == [1] * 5
    assert RawProcess("intake", (), writes=0, documents=0).batches() == []
