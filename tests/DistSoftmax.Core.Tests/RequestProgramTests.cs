using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>A direct-style computation stepped request by request, as a coordinator steps it.</summary>
public sealed class RequestProgramTests
{
    /// <summary>Replies a GramReply whose single entry is the request's X[0] doubled.</summary>
    private static ShardReply Doubled(ShardRequest request) => new GramReply([2 * request.X[0]], 1);

    [Fact]
    public void The_driver_sees_each_request_in_turn_and_the_program_sees_each_reply()
    {
        var program = new RequestProgram<double>(shards =>
        {
            double sum = 0;
            for (int k = 1; k <= 3; k++) sum += ((GramReply)shards.Evaluate(new RowProductsRequest([k]))).PackedUpper[0];
            return sum;
        });
        var seen = new List<double>();
        var request = program.Start();
        while (request is not null)
        {
            Assert.False(program.Finished);
            seen.Add(request.X[0]);
            request = program.Submit(Doubled(request));
        }
        Assert.Equal([1.0, 2.0, 3.0], seen);
        Assert.True(program.Finished);
        Assert.Null(program.Error);
        Assert.Equal(12.0, program.Result);
        Assert.Throws<InvalidOperationException>(() => program.Submit(new GramReply([0.0], 1)));
    }

    [Fact]
    public void A_program_without_requests_finishes_at_its_start_and_what_it_throws_is_kept()
    {
        var none = new RequestProgram<int>(_ => 7);
        Assert.Null(none.Start());
        Assert.Equal(7, none.Result);

        var failing = new RequestProgram<int>(shards =>
        {
            shards.Evaluate(new RowProductsRequest([1.0]));
            throw new ArgumentException("the second step is bad");
        });
        Assert.NotNull(failing.Start());
        Assert.Null(failing.Submit(new GramReply([0.0], 1)));
        Assert.True(failing.Finished);
        Assert.IsType<ArgumentException>(failing.Error);
        Assert.Contains("the second step is bad", Assert.Throws<InvalidOperationException>(() => failing.Result).Message);
    }

    [Fact]
    public void Abandoning_a_waiting_program_unwinds_it_with_the_reason()
    {
        bool unwound = false;
        var program = new RequestProgram<int>(shards =>
        {
            try { shards.Evaluate(new RowProductsRequest([1.0])); return 1; }
            finally { unwound = true; }
        });
        Assert.NotNull(program.Start());
        program.Abandon("worker lost");
        Assert.True(program.Finished);
        Assert.True(unwound);
        Assert.Equal("worker lost", Assert.IsType<OperationCanceledException>(program.Error).Message);

        var unstarted = new RequestProgram<int>(_ => 1);
        unstarted.Abandon("never needed");
        Assert.True(unstarted.Finished);
        Assert.IsType<OperationCanceledException>(unstarted.Error);
    }
}
